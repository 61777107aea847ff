//! The schema cache: tables of the `public` schema, their columns and types, read at startup.
//! Requests may only name what is here, so identifiers never come from the request verbatim.

use std::collections::BTreeMap;

/// A column and the SQL type to cast text parameters to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Column name.
    pub name: String,
    /// `format_type` of its type, e.g. `uuid`, `timestamp with time zone`, `uuid[]`.
    pub sql_type: String,
}

/// One table.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Table {
    /// Columns in order.
    pub columns: Vec<Column>,
    /// Primary key columns.
    pub primary_key: Vec<String>,
    /// Whether row-level security is enabled.
    pub row_security: bool,
}

impl Table {
    /// The column called `name`.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// All tables of `public`.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    tables: BTreeMap<String, Table>,
}

impl Schema {
    /// Reads the catalog.
    pub async fn load(client: &tokio_postgres::Client) -> Result<Schema, tokio_postgres::Error> {
        let rows = client
            .query(
                "select c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
                        coalesce(a.attnum = any(i.indkey), false), c.relrowsecurity
                 from pg_class c
                 join pg_namespace n on n.oid = c.relnamespace and n.nspname = 'public'
                 join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
                 left join pg_index i on i.indrelid = c.oid and i.indisprimary
                 where c.relkind in ('r', 'p', 'v')
                 order by c.relname, a.attnum",
                &[],
            )
            .await?;
        let mut tables: BTreeMap<String, Table> = BTreeMap::new();
        for row in rows {
            let table = tables.entry(row.get(0)).or_default();
            table.row_security = row.get(4);
            let name: String = row.get(1);
            if row.get::<_, bool>(3) {
                table.primary_key.push(name.clone());
            }
            table.columns.push(Column {
                name,
                sql_type: row.get(2),
            });
        }
        Ok(Schema { tables })
    }

    /// The table called `name`.
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.get(name)
    }
}
