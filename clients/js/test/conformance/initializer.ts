// The CheckpointerTestInitializer that @langchain/langgraph-checkpoint-validation runs
// (`validate-checkpointer ./dist/test/conformance/initializer.js`): each checkpointer gets its own
// key / thread prefix in the database of PGDATABASE, so instances do not see each other's state.
import pg from 'pg';
import { randomUUID } from 'node:crypto';
import { ChatstoreSaver } from '../../src/langgraph.js';

let pool: pg.Pool | undefined;

export default {
  checkpointerName: 'chatstore',
  beforeAll() { pool = new pg.Pool({ max: 4 }); },
  async afterAll() { await pool?.end(); },
  createCheckpointer() { return new ChatstoreSaver(pool!, { prefix: `v-${randomUUID()}/` }); },
};
