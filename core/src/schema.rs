//! The synced tables as data: which tables, their scope column, their user-editable fields and
//! field types, and the one mapping between the app's camelCase rows and the wire's snake_case
//! columns. [`Schema::rockon`] is the default; other apps pass their own (it deserializes from
//! the same JSON shape).

use crate::fields::Fields;
use crate::json_text::{ObjectWriter, WriteJson};
use crate::value::{Map, Value};
use std::fmt;

/// The type of a field, checked on every local write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// A string.
    Text,
    /// An integer.
    Integer,
    /// Any number.
    Number,
    /// `true` or `false`.
    Boolean,
    /// An ISO 8601 timestamp string.
    Timestamp,
    /// A UUID string.
    Uuid,
    /// Any JSON value.
    Json,
    /// An array of UUID strings.
    UuidArray,
}

impl FieldType {
    /// Every type, by its name in a schema.
    pub const NAMED: [(&'static str, FieldType); 8] = [
        ("text", FieldType::Text),
        ("integer", FieldType::Integer),
        ("number", FieldType::Number),
        ("boolean", FieldType::Boolean),
        ("timestamp", FieldType::Timestamp),
        ("uuid", FieldType::Uuid),
        ("json", FieldType::Json),
        ("uuidArray", FieldType::UuidArray),
    ];

    /// The type's name in a schema (`text`, `uuidArray`, …).
    pub fn name(self) -> &'static str {
        match self {
            FieldType::Text => "text",
            FieldType::Integer => "integer",
            FieldType::Number => "number",
            FieldType::Boolean => "boolean",
            FieldType::Timestamp => "timestamp",
            FieldType::Uuid => "uuid",
            FieldType::Json => "json",
            FieldType::UuidArray => "uuidArray",
        }
    }
}

/// A user-editable field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSchema {
    /// The column name on the wire (snake_case).
    pub name: String,
    /// Its type.
    pub field_type: FieldType,
    /// Must be present and not null on create.
    pub required: bool,
}

/// One synced table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSchema {
    /// The table name on the wire, e.g. `practice_sessions`.
    pub name: String,
    /// The short name used in event names (`practices:changed`).
    pub alias: String,
    /// The column that scopes rows to a band (or workspace, wedding…), e.g. `band_id`.
    pub scope: String,
    /// The field named in notifications ("Alice added 'Wonderwall'").
    pub label: Option<String>,
    /// The fields users may write.
    pub fields: Vec<FieldSchema>,
}

impl WriteJson for FieldSchema {
    fn write_json(&self, out: &mut String) {
        ObjectWriter::new(out)
            .field("name", &self.name)
            .field("type", &self.field_type.name())
            .field("required", &self.required)
            .end();
    }
}

impl WriteJson for TableSchema {
    fn write_json(&self, out: &mut String) {
        ObjectWriter::new(out)
            .field("name", &self.name)
            .field("alias", &self.alias)
            .field("scope", &self.scope)
            .field("label", &self.label)
            .field("fields", &self.fields)
            .end();
    }
}

impl WriteJson for Schema {
    /// The JSON shape [`Schema::from_json`] reads.
    fn write_json(&self, out: &mut String) {
        ObjectWriter::new(out).field("tables", &self.tables).end();
    }
}

/// Columns every synced table has, written by the server only.
pub const SYSTEM_COLUMNS: &[&str] = &[
    "id",
    "version",
    "created_by",
    "last_modified_by",
    "created_at",
    "updated_at",
    "deleted_at",
];

/// All synced tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schema {
    /// The tables.
    pub tables: Vec<TableSchema>,
}

/// A write the schema does not allow. Nothing was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaError {
    /// No such table in the schema.
    UnknownTable(String),
    /// The field is not part of the table.
    UnknownField {
        /// Table.
        table: String,
        /// Field, as the app named it.
        field: String,
    },
    /// The field is written by the server only (`version`, `updatedAt`, …).
    NotEditable {
        /// Table.
        table: String,
        /// Field, as the app named it.
        field: String,
    },
    /// The value has the wrong type.
    WrongType {
        /// Table.
        table: String,
        /// Field, as the app named it.
        field: String,
        /// The type the schema wants.
        expected: FieldType,
    },
    /// A required field is missing or null.
    Missing {
        /// Table.
        table: String,
        /// Field, as the app named it.
        field: String,
    },
    /// The row is not a JSON object.
    NotAnObject,
}

impl SchemaError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            SchemaError::UnknownTable(_) => "unknown_table",
            SchemaError::UnknownField { .. } => "unknown_field",
            SchemaError::NotEditable { .. } => "not_editable",
            SchemaError::WrongType { .. } => "wrong_type",
            SchemaError::Missing { .. } => "missing_field",
            SchemaError::NotAnObject => "not_an_object",
        }
    }
}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SchemaError::UnknownTable(t) => write!(f, "no table '{t}' in the schema"),
            SchemaError::UnknownField { table, field } => {
                write!(f, "{table} has no field '{field}'")
            }
            SchemaError::NotEditable { table, field } => {
                write!(f, "{table}.{field} is set by the server")
            }
            SchemaError::WrongType {
                table,
                field,
                expected,
            } => write!(f, "{table}.{field} must be {}", expected.name()),
            SchemaError::Missing { table, field } => write!(f, "{table}.{field} is required"),
            SchemaError::NotAnObject => f.write_str("a row must be an object"),
        }
    }
}

impl std::error::Error for SchemaError {}

impl Schema {
    /// RockOn's tables: songs, setlists, shows and practice sessions scoped by `band_id`,
    /// declared in `rockon_schema.json`, the shape any app's schema has.
    pub fn rockon() -> Schema {
        // Not `expect`: it would write out the error with `Debug`, whose string escaping is
        // code the module has no other use for.
        let read = crate::json_read::parse(include_str!("rockon_schema.json"))
            .ok()
            .and_then(|value| Schema::from_json(&value).ok());
        read.unwrap_or_else(|| panic!("the built-in schema is valid JSON (a test reads it)"))
    }

    /// Reads a schema from its JSON shape (the one it serializes to): `{ tables: [{ name,
    /// alias, scope, label?, fields: [{ name, type, required? }] }] }`. The error names the
    /// first field that is wrong.
    pub fn from_json(value: &Value) -> Result<Schema, String> {
        let schema = Fields::of(value, "schema")?;
        let Some(tables) = schema.opt_array("tables")? else {
            return Err("schema.tables is required".to_owned());
        };
        let mut parsed = Vec::with_capacity(tables.len());
        for (at, table) in tables.iter().enumerate() {
            parsed.push(TableSchema::from_json(
                table,
                &format!("schema.tables[{at}]"),
            )?);
        }
        Ok(Schema { tables: parsed })
    }

    /// The table called `name` (wire name).
    pub fn table(&self, name: &str) -> Result<&TableSchema, SchemaError> {
        self.tables
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| SchemaError::UnknownTable(name.to_owned()))
    }
}

impl TableSchema {
    /// The names of the fields users may write, in the schema's order.
    pub fn field_names(&self) -> Vec<&str> {
        let mut names = Vec::with_capacity(self.fields.len());
        for field in &self.fields {
            names.push(field.name.as_str());
        }
        names
    }

    fn from_json(value: &Value, what: &str) -> Result<TableSchema, String> {
        let table = Fields::of(value, what)?;
        let Some(fields) = table.opt_array("fields")? else {
            return Err(format!("{what}.fields is required"));
        };
        let mut parsed = Vec::with_capacity(fields.len());
        for (at, field) in fields.iter().enumerate() {
            let what = format!("{what}.fields[{at}]");
            let field = Fields::of(field, &what)?;
            parsed.push(FieldSchema {
                name: field.string("name")?,
                field_type: field
                    .opt_choice("type", &FieldType::NAMED)?
                    .ok_or_else(|| format!("{what}.type is required"))?,
                required: field.flag("required")?,
            });
        }
        Ok(TableSchema {
            name: table.string("name")?,
            alias: table.string("alias")?,
            scope: table.string("scope")?,
            label: table.opt_string("label")?,
            fields: parsed,
        })
    }

    /// The editable field with wire name `name`.
    pub fn field(&self, name: &str) -> Option<&FieldSchema> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Whether `column` (wire name) belongs to the table.
    pub fn has_column(&self, column: &str) -> bool {
        column == self.scope || SYSTEM_COLUMNS.contains(&column) || self.field(column).is_some()
    }

    /// Checks an app write and converts it to wire columns. `creating` also requires the
    /// scope and the required fields; the id and scope may be given only on create.
    pub fn to_wire_write(
        &self,
        values: &Map<String, Value>,
        creating: bool,
    ) -> Result<Map<String, Value>, SchemaError> {
        let mut wire = Map::new();
        for (key, value) in values {
            let column = camel_to_snake(key);
            let error =
                |kind: fn(String, String) -> SchemaError| Err(kind(self.name.clone(), key.clone()));
            if column == self.scope || column == "id" {
                if !creating {
                    return error(|table, field| SchemaError::NotEditable { table, field });
                }
                if !value.is_string() {
                    return Err(SchemaError::WrongType {
                        table: self.name.clone(),
                        field: key.clone(),
                        expected: FieldType::Uuid,
                    });
                }
            } else if SYSTEM_COLUMNS.contains(&column.as_str()) {
                return error(|table, field| SchemaError::NotEditable { table, field });
            } else {
                let Some(spec) = self.field(&column) else {
                    return error(|table, field| SchemaError::UnknownField { table, field });
                };
                if !type_matches(spec.field_type, value) {
                    return Err(SchemaError::WrongType {
                        table: self.name.clone(),
                        field: key.clone(),
                        expected: spec.field_type,
                    });
                }
            }
            wire.insert(column, value.clone());
        }
        if creating {
            let absent = |name: &str| wire.get(name).is_none_or(Value::is_null);
            let missing = match absent(&self.scope) {
                true => Some(self.scope.as_str()),
                false => (self.fields.iter())
                    .find(|field| field.required && absent(&field.name))
                    .map(|field| field.name.as_str()),
            };
            if let Some(name) = missing {
                return Err(SchemaError::Missing {
                    table: self.name.clone(),
                    field: snake_to_camel(name),
                });
            }
        }
        Ok(wire)
    }
}

fn type_matches(field_type: FieldType, value: &Value) -> bool {
    if value.is_null() {
        return true;
    }
    match field_type {
        FieldType::Text | FieldType::Uuid => value.is_string(),
        FieldType::Timestamp => value.as_str().is_some_and(looks_like_timestamp),
        FieldType::Integer => value.is_i64() || value.is_u64(),
        FieldType::Number => value.is_number(),
        FieldType::Boolean => value.is_boolean(),
        FieldType::Json => true,
        FieldType::UuidArray => value
            .as_array()
            .is_some_and(|items| items.iter().all(Value::is_string)),
    }
}

/// `YYYY-MM-DD` followed by a time: the server parses the rest.
fn looks_like_timestamp(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() >= 10
        && bytes[..4].iter().all(u8::is_ascii_digit)
        && bytes[4] == b'-'
        && bytes[5..7].iter().all(u8::is_ascii_digit)
        && bytes[7] == b'-'
        && bytes[8..10].iter().all(u8::is_ascii_digit)
}

/// `band_id` → `bandId`.
pub fn snake_to_camel(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            // Column names are ASCII; no Unicode case tables needed.
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// `bandId` → `band_id`.
pub fn camel_to_snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// A wire row in the app's shape: every key camelCased.
pub fn to_app(row: &Map<String, Value>) -> Map<String, Value> {
    let mut app = Map::new();
    for (key, value) in row {
        app.insert(snake_to_camel(key), value.clone());
    }
    app
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::json;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn the_built_in_schema_reads_as_declared() {
        let schema = Schema::rockon();
        let shape: Vec<(&str, &str, Option<&str>, usize)> = (schema.tables.iter())
            .map(|t| {
                (
                    t.name.as_str(),
                    t.alias.as_str(),
                    t.label.as_deref(),
                    t.fields.len(),
                )
            })
            .collect();
        assert_eq!(
            shape,
            [
                ("songs", "songs", Some("title"), 6),
                ("setlists", "setlists", Some("name"), 3),
                ("shows", "shows", Some("name"), 4),
                ("practice_sessions", "practices", Some("location"), 5),
            ]
        );
        assert!(schema.tables.iter().all(|t| t.scope == "band_id"));
        let required: Vec<&str> = (schema.tables.iter())
            .flat_map(|t| t.fields.iter().filter(|f| f.required))
            .map(|f| f.name.as_str())
            .collect();
        assert_eq!(required, ["title", "name", "name", "scheduled_at"]);
        let practices = schema.table("practice_sessions").unwrap();
        assert_eq!(
            practices.field("song_ids").unwrap().field_type,
            FieldType::UuidArray
        );
        assert_eq!(
            practices.field("duration_minutes").unwrap().field_type,
            FieldType::Integer
        );
        let songs = schema.table("songs").unwrap();
        assert_eq!(songs.field("tempo").unwrap().field_type, FieldType::Integer);
        assert_eq!(songs.field("notes").unwrap().field_type, FieldType::Text);
        let setlists = schema.table("setlists").unwrap();
        assert_eq!(setlists.field("items").unwrap().field_type, FieldType::Json);
        assert_eq!(
            setlists.field("show_id").unwrap().field_type,
            FieldType::Uuid
        );
        let shows = schema.table("shows").unwrap();
        assert_eq!(
            shows.field("starts_at").unwrap().field_type,
            FieldType::Timestamp
        );
    }

    #[test]
    fn names_map_both_ways() {
        for (snake, camel) in [
            ("band_id", "bandId"),
            ("duration_seconds", "durationSeconds"),
            ("id", "id"),
            ("last_modified_by", "lastModifiedBy"),
        ] {
            assert_eq!(snake_to_camel(snake), camel);
            assert_eq!(camel_to_snake(camel), snake);
        }
    }

    #[test]
    fn creates_are_checked_against_the_schema() {
        let schema = Schema::rockon();
        let songs = schema.table("songs").unwrap();
        let wire = songs
            .to_wire_write(
                &object(json!({"id": "s1", "bandId": "b1", "title": "Yellow", "tempo": 88})),
                true,
            )
            .unwrap();
        assert_eq!(wire["band_id"], "b1");
        assert_eq!(wire["tempo"], 88);
        let cases = [
            (json!({"id": "s1", "title": "x"}), "missing_field"),
            (json!({"id": "s1", "bandId": "b1"}), "missing_field"),
            (
                json!({"id": "s1", "bandId": "b1", "title": "x", "tempo": "fast"}),
                "wrong_type",
            ),
            (
                json!({"id": "s1", "bandId": "b1", "title": "x", "colour": "red"}),
                "unknown_field",
            ),
            (
                json!({"id": "s1", "bandId": "b1", "title": "x", "version": 3}),
                "not_editable",
            ),
        ];
        for (row, code) in cases {
            let error = songs.to_wire_write(&object(row.clone()), true).unwrap_err();
            assert_eq!(error.code(), code, "{row}");
        }
        assert_eq!(schema.table("gigs").unwrap_err().code(), "unknown_table");
    }

    #[test]
    fn updates_cannot_move_rows_between_bands() {
        let schema = Schema::rockon();
        let shows = schema.table("shows").unwrap();
        let error = shows
            .to_wire_write(&object(json!({"bandId": "b2"})), false)
            .unwrap_err();
        assert_eq!(error.code(), "not_editable");
        let ok = shows
            .to_wire_write(&object(json!({"startsAt": "2026-12-04T20:30:00Z"})), false)
            .unwrap();
        assert_eq!(ok["starts_at"], "2026-12-04T20:30:00Z");
        let bad = shows.to_wire_write(&object(json!({"startsAt": "soon"})), false);
        assert_eq!(bad.unwrap_err().code(), "wrong_type");
    }

    #[test]
    fn the_schema_is_data() {
        let json = crate::json_text::json_value(&Schema::rockon());
        assert_eq!(Schema::from_json(&json).unwrap(), Schema::rockon());
        // What an app may leave out has its default; unknown keys are ignored.
        let minimal = json!({ "tables": [{
            "name": "tasks", "alias": "tasks", "scope": "wedding_id", "note": "ignored",
            "fields": [{ "name": "title", "type": "text" }, { "name": "tags", "type": "uuidArray", "required": true }],
        }] });
        let schema = Schema::from_json(&minimal).unwrap();
        let tasks = schema.table("tasks").unwrap();
        assert_eq!(tasks.label, None);
        assert_eq!(tasks.field("title").unwrap().field_type, FieldType::Text);
        assert!(!tasks.field("title").unwrap().required);
        assert_eq!(
            tasks.field("tags").unwrap().field_type,
            FieldType::UuidArray
        );
        assert!(tasks.field("tags").unwrap().required);
        for (name, field_type) in FieldType::NAMED {
            assert_eq!(field_type.name(), name);
        }
    }

    #[test]
    fn a_wrong_schema_is_an_error_naming_its_field() {
        let cases = [
            (json!([]), "schema must be an object, not an array"),
            (json!({}), "schema.tables is required"),
            (json!({ "tables": [{ "name": "t", "alias": "t", "scope": "s" }] }), "schema.tables[0].fields is required"),
            (json!({ "tables": [{ "name": "t", "alias": "t", "fields": [] }] }), "schema.tables[0].scope is required"),
            (
                json!({ "tables": [{ "name": "t", "alias": "t", "scope": "s", "fields": [{ "name": "f", "type": "date" }] }] }),
                "schema.tables[0].fields[0].type must be one of 'text', 'integer', 'number', 'boolean', 'timestamp', 'uuid', 'json', 'uuidArray', not 'date'",
            ),
            (
                json!({ "tables": [{ "name": "t", "alias": "t", "scope": "s", "fields": [{ "type": "text" }] }] }),
                "schema.tables[0].fields[0].name is required",
            ),
        ];
        for (value, error) in cases {
            assert_eq!(Schema::from_json(&value).unwrap_err(), error, "{value}");
        }
    }
}
