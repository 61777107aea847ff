//! Realtime row filters: one `column=op.value`, op in eq, neq, lt, lte, gt, gte, in.

use serde_json::Value;

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub struct RowFilter {
    /// The column compared.
    pub column: String,
    /// The comparison.
    pub op: FilterOp,
    /// The values (one, or several for `in`).
    pub values: Vec<String>,
}

/// Filter operators the deployed servers all support.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterOp {
    /// Equal.
    Eq,
    /// Not equal.
    Neq,
    /// Less than.
    Lt,
    /// Less than or equal.
    Lte,
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Gte,
    /// One of.
    In,
}

impl RowFilter {
    /// Parses `column=op.value`; `None` when malformed.
    pub fn parse(text: &str) -> Option<RowFilter> {
        let (column, rest) = text.split_once('=')?;
        let (op, value) = rest.split_once('.')?;
        let op = match op {
            "eq" => FilterOp::Eq,
            "neq" => FilterOp::Neq,
            "lt" => FilterOp::Lt,
            "lte" => FilterOp::Lte,
            "gt" => FilterOp::Gt,
            "gte" => FilterOp::Gte,
            "in" => FilterOp::In,
            _ => return None,
        };
        let values = if op == FilterOp::In {
            let inner = value.strip_prefix('(')?.strip_suffix(')')?;
            inner
                .split(',')
                .map(|v| v.trim().trim_matches('"').to_owned())
                .collect()
        } else {
            vec![value.to_owned()]
        };
        if column.is_empty() || values.is_empty() {
            return None;
        }
        Some(RowFilter {
            column: column.to_owned(),
            op,
            values,
        })
    }

    /// Whether `record` passes. Numbers compare numerically, everything else as text.
    pub fn matches(&self, record: &serde_json::Map<String, Value>) -> bool {
        let Some(actual) = record.get(&self.column) else {
            return false;
        };
        let text = match actual {
            Value::Null => return false,
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let compare = |wanted: &str| -> Option<std::cmp::Ordering> {
            match (actual.as_f64(), wanted.parse::<f64>()) {
                (Some(a), Ok(b)) => a.partial_cmp(&b),
                _ => Some(text.as_str().cmp(wanted)),
            }
        };
        use std::cmp::Ordering::*;
        match self.op {
            FilterOp::Eq => compare(&self.values[0]) == Some(Equal),
            FilterOp::Neq => compare(&self.values[0]) != Some(Equal),
            FilterOp::Lt => compare(&self.values[0]) == Some(Less),
            FilterOp::Lte => matches!(compare(&self.values[0]), Some(Less | Equal)),
            FilterOp::Gt => compare(&self.values[0]) == Some(Greater),
            FilterOp::Gte => matches!(compare(&self.values[0]), Some(Greater | Equal)),
            FilterOp::In => self.values.iter().any(|v| compare(v) == Some(Equal)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(value: Value) -> serde_json::Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn filters_compare_text_and_numbers() {
        let row = record(json!({"band_id": "b1", "tempo": 120}));
        assert!(RowFilter::parse("band_id=eq.b1").unwrap().matches(&row));
        assert!(!RowFilter::parse("band_id=neq.b1").unwrap().matches(&row));
        assert!(RowFilter::parse("tempo=gt.99").unwrap().matches(&row));
        assert!(RowFilter::parse("tempo=lte.120").unwrap().matches(&row));
        assert!(RowFilter::parse("band_id=in.(b2,b1)")
            .unwrap()
            .matches(&row));
        assert!(!RowFilter::parse("missing=eq.x").unwrap().matches(&row));
        assert_eq!(RowFilter::parse("band_id=like.b%"), None);
        assert_eq!(RowFilter::parse("nonsense"), None);
    }
}
