//! SQL for PostgREST requests. Identifiers come only from the schema cache (never from the
//! request verbatim), values only as parameters: text cast to the column's type.

use super::query::{Condition, Filter, FilterValue, Op, Query};
use super::RestError;
use crate::schema::Table;
use serde_json::Value;
use std::fmt::Write;
use tokio_postgres::types::ToSql;

/// A statement and its parameters. It returns one row with one `json` column: the rows, or
/// `[rows, total]` when `counted`.
pub struct Statement {
    /// The SQL.
    pub sql: String,
    /// Its parameters.
    pub params: Vec<Box<dyn ToSql + Sync + Send>>,
    /// Whether it also counts every matching row (`Prefer: count=exact`).
    pub counted: bool,
}

impl Statement {
    fn param(&mut self, value: impl ToSql + Sync + Send + 'static) -> String {
        self.params.push(Box::new(value));
        format!("${}", self.params.len())
    }
}

/// `GET`: the selected columns of the matching rows, ordered and paged; with `count`, also
/// how many rows match in all.
pub fn select(
    name: &str,
    table: &Table,
    query: &Query,
    count: bool,
) -> Result<Statement, RestError> {
    let mut statement = Statement {
        sql: String::new(),
        params: Vec::new(),
        counted: count,
    };
    let columns = select_list(name, table, &query.select)?;
    let filters = where_clause(&mut statement, name, table, &query.filters, &query.logic)?;
    let mut inner = format!("select {columns} from public.{} {filters}", quote(name));
    if !query.order.is_empty() {
        let keys = query
            .order
            .iter()
            .map(|key| {
                let column = table
                    .column(&key.column)
                    .ok_or_else(|| unknown_column(name, &key.column))?;
                let mut sql = quote(&column.name);
                sql.push_str(if key.desc { " desc" } else { " asc" });
                match key.nulls_first {
                    Some(true) => sql.push_str(" nulls first"),
                    Some(false) => sql.push_str(" nulls last"),
                    None => {}
                }
                Ok(sql)
            })
            .collect::<Result<Vec<_>, RestError>>()?;
        write!(inner, " order by {}", keys.join(", ")).expect("writing to a String");
    }
    if let Some(limit) = query.limit {
        write!(inner, " limit {limit}").expect("writing to a String");
    }
    if let Some(offset) = query.offset {
        write!(inner, " offset {offset}").expect("writing to a String");
    }
    statement.sql = if count {
        // The filters' parameters are shared by both halves.
        format!(
            "select json_build_array(({}), (select count(*) from public.{} {filters}))",
            wrap(&inner),
            quote(name)
        )
    } else {
        wrap(&inner)
    };
    Ok(statement)
}

/// `POST`: insert one object or an array of them; with `on_conflict`/`Prefer: resolution` an
/// upsert.
pub fn insert(
    name: &str,
    table: &Table,
    query: &Query,
    body: &Value,
    merge: bool,
    ignore: bool,
) -> Result<Statement, RestError> {
    let rows: Vec<&serde_json::Map<String, Value>> = match body {
        Value::Object(one) => vec![one],
        Value::Array(many) => many
            .iter()
            .map(|v| v.as_object().ok_or_else(invalid_body))
            .collect::<Result<_, _>>()?,
        _ => return Err(invalid_body()),
    };
    let mut columns: Vec<&str> = Vec::new();
    for row in &rows {
        for key in row.keys() {
            let column = table.column(key).ok_or_else(|| missing_column(name, key))?;
            if !columns.contains(&column.name.as_str()) {
                columns.push(&column.name);
            }
        }
    }
    let mut statement = Statement {
        sql: String::new(),
        params: Vec::new(),
        counted: false,
    };
    let array = Value::Array(rows.into_iter().cloned().map(Value::Object).collect());
    let input = statement.param(array);
    let list = columns
        .iter()
        .map(|c| quote(c))
        .collect::<Vec<_>>()
        .join(", ");
    let mut sql = if columns.is_empty() {
        format!("insert into public.{} default values", quote(name))
    } else {
        format!(
            "insert into public.{table} ({list}) select {list} from json_populate_recordset(null::public.{table}, {input}::json)",
            table = quote(name)
        )
    };
    if merge || ignore || !query.on_conflict.is_empty() {
        let target: Vec<String> = if query.on_conflict.is_empty() {
            table.primary_key.iter().map(|c| quote(c)).collect()
        } else {
            query
                .on_conflict
                .iter()
                .map(|c| {
                    table
                        .column(c)
                        .map(|col| quote(&col.name))
                        .ok_or_else(|| unknown_column(name, c))
                })
                .collect::<Result<_, _>>()?
        };
        let updates: Vec<String> = columns
            .iter()
            .filter(|c| !target.contains(&quote(c)))
            .map(|c| format!("{q} = excluded.{q}", q = quote(c)))
            .collect();
        if ignore || updates.is_empty() {
            write!(sql, " on conflict ({}) do nothing", target.join(", ")).expect("String");
        } else {
            write!(
                sql,
                " on conflict ({}) do update set {}",
                target.join(", "),
                updates.join(", ")
            )
            .expect("String");
        }
    }
    let returning = select_list(name, table, &query.select)?;
    statement.sql = format!(
        "with written as ({sql} returning {returning}) select coalesce(json_agg(row_to_json(written)), '[]'::json) from written"
    );
    Ok(statement)
}

/// `PATCH`: set the body's columns on every matching row.
pub fn update(
    name: &str,
    table: &Table,
    query: &Query,
    body: &Value,
) -> Result<Statement, RestError> {
    let object = body.as_object().ok_or_else(invalid_body)?;
    let mut statement = Statement {
        sql: String::new(),
        params: Vec::new(),
        counted: false,
    };
    let mut sets = Vec::new();
    for key in object.keys() {
        let column = table.column(key).ok_or_else(|| missing_column(name, key))?;
        sets.push(format!("{q} = patch.{q}", q = quote(&column.name)));
    }
    if sets.is_empty() {
        return Err(invalid_body());
    }
    let input = statement.param(body.clone());
    let filters = where_clause(&mut statement, name, table, &query.filters, &query.logic)?;
    let returning = select_list(name, table, &query.select)?;
    let target = quote(name);
    let filters = filters.replacen("where", "and", 1);
    statement.sql = format!(
        "with written as (update public.{target} set {sets} from json_populate_record(null::public.{target}, {input}::json) patch where true {filters} returning {returning}) \
         select coalesce(json_agg(row_to_json(written)), '[]'::json) from written",
        sets = sets.join(", "),
    );
    Ok(statement)
}

/// `DELETE`: remove every matching row.
pub fn delete(name: &str, table: &Table, query: &Query) -> Result<Statement, RestError> {
    let mut statement = Statement {
        sql: String::new(),
        params: Vec::new(),
        counted: false,
    };
    let filters = where_clause(&mut statement, name, table, &query.filters, &query.logic)?;
    let returning = select_list(name, table, &query.select)?;
    statement.sql = format!(
        "with written as (delete from public.{} {filters} returning {returning}) select coalesce(json_agg(row_to_json(written)), '[]'::json) from written",
        quote(name)
    );
    Ok(statement)
}

fn wrap(inner: &str) -> String {
    format!("select coalesce(json_agg(row_to_json(t)), '[]'::json) from ({inner}) t")
}

/// The selected columns, qualified with the table name: in `update … from patch` the patch
/// record has the same column names.
fn select_list(name: &str, table: &Table, select: &[String]) -> Result<String, RestError> {
    let qualify = |column: &str| format!("{}.{}", quote(name), quote(column));
    if select.is_empty() {
        return Ok(table
            .columns
            .iter()
            .map(|c| qualify(&c.name))
            .collect::<Vec<_>>()
            .join(", "));
    }
    select
        .iter()
        .map(|c| {
            table
                .column(c)
                .map(|col| qualify(&col.name))
                .ok_or_else(|| unknown_column(name, c))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(|cols| cols.join(", "))
}

fn where_clause(
    statement: &mut Statement,
    name: &str,
    table: &Table,
    filters: &[Filter],
    logic: &[Condition],
) -> Result<String, RestError> {
    let mut conditions = Vec::new();
    for tree in logic {
        conditions.push(logic_sql(statement, name, table, tree)?);
    }
    for filter in filters {
        conditions.push(filter_sql(statement, name, table, filter)?);
    }
    Ok(if conditions.is_empty() {
        String::new()
    } else {
        format!("where {}", conditions.join(" and "))
    })
}

fn logic_sql(
    statement: &mut Statement,
    name: &str,
    table: &Table,
    tree: &Condition,
) -> Result<String, RestError> {
    let (items, joiner) = match tree {
        Condition::Filter(filter) => return filter_sql(statement, name, table, filter),
        Condition::Any(items) => (items, " or "),
        Condition::All(items) => (items, " and "),
        Condition::Not(inner) => {
            return Ok(format!("not {}", logic_sql(statement, name, table, inner)?))
        }
    };
    let parts = items
        .iter()
        .map(|item| logic_sql(statement, name, table, item))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(format!("({})", parts.join(joiner)))
}

fn filter_sql(
    statement: &mut Statement,
    name: &str,
    table: &Table,
    filter: &Filter,
) -> Result<String, RestError> {
    {
        let column = table
            .column(&filter.column)
            .ok_or_else(|| unknown_column(name, &filter.column))?;
        let q = format!("{}.{}", quote(name), quote(&column.name));
        let ty = &column.sql_type;
        let condition = match (&filter.op, &filter.value) {
            (Op::Is, FilterValue::One(value)) => {
                let literal = match value.to_ascii_lowercase().as_str() {
                    "null" => "null",
                    "true" => "true",
                    "false" => "false",
                    "unknown" => "unknown",
                    _ => {
                        return Err(RestError::new(
                            400,
                            "PGRST100",
                            "\"failed to parse\" query string",
                        )
                        .with_details(format!(
                            "is.{value}: expected null, true, false or unknown"
                        )))
                    }
                };
                format!("{q} is {literal}")
            }
            (Op::In, FilterValue::List(values)) => {
                let p = statement.param(values.clone());
                format!("{q} = any({p}::text[]::{ty}[])")
            }
            (Op::Like | Op::Ilike, FilterValue::One(value)) => {
                let p = statement.param(value.clone());
                format!("{q}::text {} {p}::text", filter.op.sql())
            }
            (Op::Fts(kind), FilterValue::One(value)) => {
                let p = statement.param(value.clone());
                match &filter.config {
                    Some(config) => {
                        let c = statement.param(config.clone());
                        format!(
                            "to_tsvector({c}::text::regconfig, {q}::text) @@ {}({c}::text::regconfig, {p}::text)",
                            kind.function()
                        )
                    }
                    None => format!("to_tsvector({q}::text) @@ {}({p}::text)", kind.function()),
                }
            }
            (op, FilterValue::One(value)) => {
                let p = statement.param(value.clone());
                format!("{q} {} {p}::text::{ty}", op.sql())
            }
            (_, FilterValue::List(_)) => unreachable!("only `in` parses to a list"),
        };
        Ok(if filter.negated {
            format!("not ({condition})")
        } else {
            condition
        })
    }
}

/// A double-quoted identifier.
pub fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

fn unknown_column(table: &str, column: &str) -> RestError {
    RestError::new(
        400,
        "42703",
        format!("column {table}.{column} does not exist"),
    )
}

fn missing_column(table: &str, column: &str) -> RestError {
    RestError::new(
        400,
        "PGRST204",
        format!("Could not find the '{column}' column of '{table}' in the schema cache"),
    )
}

fn invalid_body() -> RestError {
    RestError::new(400, "PGRST102", "Empty or invalid json")
}
