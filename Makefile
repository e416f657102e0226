# chatstore — PGXS build
#
# The script of the current version, chatstore--$(EXTVERSION).sql, is generated
# from the ordered parts in src/sql/ (one part per concern), so each concern
# keeps its own file.  Released versions are frozen: chatstore--1.0.sql is the
# 1.0 script as released (never edited), chatstore--A--B.sql the updates.
#
# Builds in the source tree (`make`, `make install`) and out of it (VPATH):
#     mkdir build && cd build && make -f ../Makefile [install]
# (srcdir is then the Makefile's directory; `make -f /src/Makefile VPATH=/src`
# does the same, and is what Debian's pg_buildext runs in debian/rules).  A
# VPATH build needs a source tree without an in-tree build: `make clean` there
# first (make stops with that message otherwise).
#
# Warnings: -Wall -Wextra always; -Werror only in the project's own builds
# (scripts/lib.sh, scripts/dev-install.sh, scripts/sanitize.sh), which pass
# COPT=-Werror (COPT is PGXS's hook for extra compiler flags).  A packager's
# newer compiler must not turn a new warning into a failed build.

EXTENSION   = chatstore
EXTVERSION  = 1.8
MODULE_big  = chatstore
PGFILEDESC  = "chatstore - chat history store for LLM applications"

# The source directory: the directory of this Makefile, or VPATH when given
# (PGXS sets srcdir the same way, but only once $(PGXS) is included; the
# lists below need it before).
ifdef VPATH
cs_srcdir := $(patsubst %/,%,$(VPATH))
else
cs_srcdir := $(patsubst %/,%,$(dir $(firstword $(MAKEFILE_LIST))))
endif

# The sources, by name.  A new src/*.c or src/sql/*.sql must be added here
# (make stops when the lists and the directories disagree, see below).
OBJS        = src/chatstore.o \
              src/history.o \
              src/msg_input.o \
              src/save.o \
              src/spi_util.o
CS_HEADERS = src/chatstore.h \
              src/msg_input.h \
              src/spi_util.h
# the parts of chatstore--$(EXTVERSION).sql, in this order
SQL_PARTS   = src/sql/00_schema.sql \
              src/sql/05_internal.sql \
              src/sql/07_items.sql \
              src/sql/10_core.sql \
              src/sql/15_branches.sql \
              src/sql/16_messages.sql \
              src/sql/17_model_apis.sql \
              src/sql/20_seed.sql \
              src/sql/25_import.sql \
              src/sql/30_search.sql \
              src/sql/35_retention.sql \
              src/sql/40_analytics.sql \
              src/sql/50_user_data.sql \
              src/sql/60_checkpoints.sql \
              src/sql/80_tenant.sql \
              src/sql/85_citus.sql \
              src/sql/90_privileges.sql

DATA_built  = $(EXTENSION)--$(EXTVERSION).sql
# every shipped script: the frozen full scripts of released versions and the
# update scripts (a release only adds files, so these stay a wildcard; PGXS
# installs them from $(srcdir))
DATA        = $(filter-out $(DATA_built),$(notdir $(wildcard $(cs_srcdir)/$(EXTENSION)--*.sql)))

# pg_regress: every sql/*.sql, in name order, against one database that has
# the extension loaded.
REGRESS      = $(sort $(basename $(notdir $(wildcard $(cs_srcdir)/sql/*.sql))))
REGRESS_OPTS = --load-extension=$(EXTENSION)

# pg_isolation_regress: every test/isolation/specs/*.spec
ISOLATION      = $(sort $(basename $(notdir $(wildcard $(cs_srcdir)/test/isolation/specs/*.spec))))
ISOLATION_OPTS = --inputdir=$(cs_srcdir)/test/isolation --load-extension=$(EXTENSION)

PG_CPPFLAGS = -I$(srcdir)/src
PG_CFLAGS   = -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers

EXTRA_CLEAN = results/ regression.diffs regression.out output_iso/ tmp_check/ log/

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# every object depends on every header (a struct change must rebuild all)
$(OBJS) $(OBJS:.o=.bc): $(CS_HEADERS)

# $^: the parts as found through VPATH, in the listed order
$(DATA_built): $(SQL_PARTS)
	cat $^ > $@

# ---------------------------------------------------------------------------
# checks on the lists above (not for clean, so a broken tree can be cleaned)
ifeq ($(filter clean distclean maintainer-clean,$(MAKECMDGOALS)),)
cs_listed_c   := $(sort $(OBJS:.o=.c))
cs_present_c  := $(sort $(patsubst $(cs_srcdir)/%,%,$(wildcard $(cs_srcdir)/src/*.c)))
cs_listed_h   := $(sort $(CS_HEADERS))
cs_present_h  := $(sort $(patsubst $(cs_srcdir)/%,%,$(wildcard $(cs_srcdir)/src/*.h)))
cs_listed_sql := $(sort $(SQL_PARTS))
cs_present_sql:= $(sort $(patsubst $(cs_srcdir)/%,%,$(wildcard $(cs_srcdir)/src/sql/*.sql)))
ifneq ($(cs_listed_c) $(cs_listed_h) $(cs_listed_sql),$(cs_present_c) $(cs_present_h) $(cs_present_sql))
$(error the Makefile's source lists and the source tree disagree: \
  not in the Makefile: [$(filter-out $(cs_listed_c) $(cs_listed_h) $(cs_listed_sql),$(cs_present_c) $(cs_present_h) $(cs_present_sql))] \
  listed but missing: [$(filter-out $(cs_present_c) $(cs_present_h) $(cs_present_sql),$(cs_listed_c) $(cs_listed_h) $(cs_listed_sql))] \
  -- edit OBJS / CS_HEADERS / SQL_PARTS)
endif
ifneq ($(SQL_PARTS),$(sort $(SQL_PARTS)))
$(error SQL_PARTS must be listed in name order (the NN_ prefix is the order of the script))
endif

# out of tree: objects go to src/ of the build directory, and the source tree
# must not hold a build of its own (make would take its products for ours
# through VPATH, then fail to find them here)
ifneq ($(abspath $(srcdir)),$(CURDIR))
$(shell mkdir -p src)
cs_intree := $(wildcard $(addprefix $(cs_srcdir)/,$(DATA_built) $(OBJS) $(OBJS:.o=.bc) $(shlib)))
ifneq ($(cs_intree),)
$(error the source tree $(cs_srcdir) has an in-tree build ($(cs_intree)): run `make clean` there first)
endif
endif
endif

.PHONY: bench prove sanitize dist
# benchmarks (see README "Performance"); BENCH_SCALE=smoke|default|large
# (installs under the build lock scripts/dev-install.sh and the test command take)
bench:
	PG_CONFIG=$(PG_CONFIG) $(cs_srcdir)/scripts/dev-install.sh
	$(cs_srcdir)/test/bench/run.sh

# TAP tests in test/t (need a PostgreSQL installation with the extension)
prove:
	PG_REGRESS=$(top_builddir)/src/test/regress/pg_regress \
	PERL5LIB=$(dir $(PGXS))../../src/test/perl:$$PERL5LIB \
	PG_CONFIG=$(PG_CONFIG) \
	prove --timer -v $(cs_srcdir)/test/t/*.pl

# ---------------------------------------------------------------------------
# sanitizers (reliability suite, see README "Running the suites"): builds chatstore with
# -fsanitize=address,undefined (UBSan alone where a preloaded ASan runtime
# cannot start postgres) into a private copy of the installation and runs the
# pg_regress and isolation suites on a throwaway cluster; fails on any report
sanitize:
	PG_CONFIG=$(PG_CONFIG) $(cs_srcdir)/scripts/sanitize.sh

# ---------------------------------------------------------------------------
# PGXN release zip of the committed HEAD (META.json at its root); a PGXN user
# builds it with make, which generates chatstore--$(EXTVERSION).sql.
# Uncommitted changes are not in it (make says so).
dist:
	@git -C $(cs_srcdir) diff --quiet HEAD -- 2>/dev/null || \
		echo "note: uncommitted changes in $(cs_srcdir) are not in the zip (it is made from HEAD)"
	git -C $(cs_srcdir) archive --format zip --prefix=$(EXTENSION)-$(EXTVERSION)/ \
		-o $(CURDIR)/$(EXTENSION)-$(EXTVERSION).zip HEAD
	@echo "made $(CURDIR)/$(EXTENSION)-$(EXTVERSION).zip"
