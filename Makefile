# chatstore — PGXS build
#
# The script of the current version, chatstore--$(EXTVERSION).sql, is generated
# from the ordered parts in src/sql/ (one part per concern), so each concern
# keeps its own file.  Released versions are frozen: chatstore--1.0.sql is the
# 1.0 script as released (never edited), chatstore--A--B.sql the updates.

EXTENSION   = chatstore
EXTVERSION  = 1.2
MODULE_big  = chatstore
OBJS        = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))
PGFILEDESC  = "chatstore - chat history store for LLM applications"

SQL_PARTS   = $(sort $(wildcard src/sql/*.sql))
DATA_built  = $(EXTENSION)--$(EXTVERSION).sql
DATA        = $(filter-out $(DATA_built),$(wildcard $(EXTENSION)--*.sql))

# pg_regress: every sql/*.sql, in name order, against one database that has
# the extension loaded.
REGRESS      = $(sort $(basename $(notdir $(wildcard sql/*.sql))))
REGRESS_OPTS = --load-extension=$(EXTENSION)

# pg_isolation_regress: every test/isolation/specs/*.spec
ISOLATION      = $(sort $(basename $(notdir $(wildcard test/isolation/specs/*.spec))))
ISOLATION_OPTS = --inputdir=test/isolation --load-extension=$(EXTENSION)

PG_CPPFLAGS = -I$(srcdir)/src
PG_CFLAGS   = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers

EXTRA_CLEAN = results/ regression.diffs regression.out output_iso/ tmp_check/ log/

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# every object depends on every header (a struct change must rebuild all)
$(OBJS) $(OBJS:.o=.bc): $(wildcard src/*.h)

$(DATA_built): $(SQL_PARTS)
	cat $(SQL_PARTS) > $@

.PHONY: bench prove sanitize
# benchmarks (see README "Performance"); BENCH_SCALE=smoke|default|large
# (installs under the build lock scripts/dev-install.sh and the test command take)
bench:
	PG_CONFIG=$(PG_CONFIG) scripts/dev-install.sh
	test/bench/run.sh

# TAP tests in test/t (need a PostgreSQL installation with the extension)
prove:
	PG_REGRESS=$(top_builddir)/src/test/regress/pg_regress \
	PERL5LIB=$(dir $(PGXS))../../src/test/perl:$$PERL5LIB \
	PG_CONFIG=$(PG_CONFIG) \
	prove --timer -v test/t/*.pl

# ---------------------------------------------------------------------------
# sanitizers (reliability suite, see README "Running the suites"): builds chatstore with
# -fsanitize=address,undefined (UBSan alone where a preloaded ASan runtime
# cannot start postgres) into a private copy of the installation and runs the
# pg_regress and isolation suites on a throwaway cluster; fails on any report
sanitize:
	PG_CONFIG=$(PG_CONFIG) scripts/sanitize.sh
