import type { DuckDBConnection } from '@duckdb/node-api';
import { ident, queryRows } from './open';

export interface DdlTable {
  schema: string;
  name: string;
  sql: string;
  columns: { name: string; notNull: boolean }[];
}

/** The schema of a database as ordered SQL: schemas, sequences at their current values, tables parents first, views, indexes. */
export interface Ddl {
  schemas: string[];
  sequences: string[];
  tables: DdlTable[];
  views: string[];
  indexes: string[];
}

const str = (v: unknown) => String(v ?? '');
const num = (v: unknown) => (v === null || v === undefined ? undefined : BigInt(String(v)));

/**
 * Orders tables so that every table comes after the tables its foreign keys
 * reference (COPY FROM DATABASE gets this wrong, duckdb#24215). Cycles keep
 * their original order.
 */
export function dependencyOrder<T extends { key: string; refs: string[] }>(items: T[]): T[] {
  const byKey = new Map(items.map((t) => [t.key, t]));
  const out: T[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (t: T) => {
    if (state.get(t.key)) return;
    state.set(t.key, 'visiting');
    for (const r of t.refs) { const dep = byKey.get(r); if (dep && dep !== t) visit(dep); }
    state.set(t.key, 'done');
    out.push(t);
  };
  items.forEach(visit);
  return out;
}

/**
 * Reads the schema of the database `alias` (e.g. the attached damaged file)
 * as DDL. Sequences are re-created to continue where the source's stopped.
 * Reads only the catalog, never table data.
 */
export async function readDdl(conn: DuckDBConnection, alias: string): Promise<Ddl> {
  const db = `database_name = '${alias.replace(/'/g, "''")}'`;
  const schemas = (await queryRows(conn, `SELECT schema_name FROM duckdb_schemas() WHERE ${db} AND NOT internal AND schema_name NOT IN ('main', 'information_schema', 'pg_catalog')`))
    .map((r) => `CREATE SCHEMA IF NOT EXISTS ${ident(str(r.schema_name))};`);
  const sequences = (await queryRows(conn, `SELECT schema_name, sequence_name, start_value, min_value, max_value, increment_by, cycle, last_value, sql FROM duckdb_sequences() WHERE ${db} AND NOT temporary`)).map((r) => {
    const inc = num(r.increment_by) ?? 1n;
    // The value nextval() would return next. Only DuckDB's own `sql` has it: after a
    // reload start_value and last_value both hold it, and after a WAL replay both are
    // stale (the replayed counter is not reflected), so last_value + increment can
    // restart a sequence below ids already in use.
    const next = /\bSTART (?:WITH )?(-?\d+)/i.exec(str(r.sql))?.[1];
    const last = num(r.last_value);
    const start = next !== undefined ? BigInt(next) : last === undefined ? num(r.start_value)! : last + inc;
    return `CREATE SEQUENCE ${ident(str(r.schema_name))}.${ident(str(r.sequence_name))} INCREMENT BY ${inc} MINVALUE ${num(r.min_value)} MAXVALUE ${num(r.max_value)} START WITH ${start}${r.cycle ? ' CYCLE' : ''};`;
  });
  const tableRows = await queryRows(conn, `SELECT schema_name, table_name, sql FROM duckdb_tables() WHERE ${db} AND NOT temporary AND NOT internal ORDER BY table_oid`);
  const fkRows = await queryRows(conn, `SELECT schema_name, table_name, referenced_table FROM duckdb_constraints() WHERE ${db} AND constraint_type = 'FOREIGN KEY'`);
  const colRows = await queryRows(conn, `SELECT schema_name, table_name, column_name, is_nullable FROM duckdb_columns() WHERE ${db} ORDER BY column_index`);
  const tables = dependencyOrder(
    tableRows.map((r) => {
      const schema = str(r.schema_name);
      const name = str(r.table_name);
      return {
        key: `${schema}.${name}`,
        refs: fkRows.filter((f) => str(f.schema_name) === schema && str(f.table_name) === name).map((f) => `${schema}.${str(f.referenced_table)}`),
        schema,
        name,
        sql: withSchema(str(r.sql), schema, name),
        columns: colRows.filter((c) => str(c.schema_name) === schema && str(c.table_name) === name).map((c) => ({ name: str(c.column_name), notNull: c.is_nullable === false })),
      };
    }),
  ).map(({ schema, name, sql, columns }) => ({ schema, name, sql, columns }));
  const views = (await queryRows(conn, `SELECT sql FROM duckdb_views() WHERE ${db} AND NOT internal AND NOT temporary ORDER BY view_oid`)).map((r) => str(r.sql));
  const indexes = (await queryRows(conn, `SELECT sql FROM duckdb_indexes() WHERE ${db} AND sql IS NOT NULL ORDER BY index_oid`)).map((r) => str(r.sql));
  return { schemas, sequences, tables, views, indexes };
}

/**
 * DuckDB's stored CREATE TABLE names the table without its schema when it is
 * main (and, in some versions, elsewhere); make it explicit for other schemas.
 * Only an unqualified name directly followed by "(" is rewritten: a schema
 * whose name starts with the table's ("events_x.events") is left alone.
 */
function withSchema(sql: string, schema: string, name: string): string {
  if (schema === 'main') return sql;
  const esc = (x: string) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const re = new RegExp(`^CREATE TABLE (${esc(ident(name))}|${esc(name)})(?=\\s*\\()`, 'i');
  return sql.replace(re, `CREATE TABLE ${ident(schema)}.${ident(name)}`);
}

/** All statements of a Ddl in an order that recreates an empty database. */
export function ddlStatements(d: Ddl): string[] {
  return [...d.schemas, ...d.sequences, ...d.tables.map((t) => t.sql), ...d.views, ...d.indexes];
}
