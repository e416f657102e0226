import pg from 'pg';
import { randomUUID } from 'node:crypto';
export function pool(): pg.Pool {
  return new pg.Pool({ max: 4 });   // PGHOST/PGPORT/PGUSER/PGDATABASE from the environment
}
export function tid(prefix = 't'): string {
  return `${prefix}-${randomUUID()}`;
}
