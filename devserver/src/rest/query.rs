//! PostgREST query strings: `select`, filters, `order`, `limit`, `offset`, `on_conflict`.

use super::RestError;

/// A filter operator: PostgREST's comparisons, pattern matches, containment and full-text
/// search, the ones apps reach through supabase-js.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `=`
    Eq,
    /// `<>`
    Neq,
    /// `>`
    Gt,
    /// `>=`
    Gte,
    /// `<`
    Lt,
    /// `<=`
    Lte,
    /// `= any(…)`
    In,
    /// `is null`, `is true`, …
    Is,
    /// `like`, with `*` standing for `%`.
    Like,
    /// `ilike`, with `*` standing for `%`.
    Ilike,
    /// `@>`: contains.
    Cs,
    /// `<@`: contained in.
    Cd,
    /// `&&`: overlaps.
    Ov,
    /// `@@` against a text search query built by the given function.
    Fts(TsQuery),
}

/// How a full-text filter turns its value into a `tsquery`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TsQuery {
    /// `fts`: `to_tsquery`.
    Plain,
    /// `plfts`: `plainto_tsquery`.
    Plain2,
    /// `phfts`: `phraseto_tsquery`.
    Phrase,
    /// `wfts`: `websearch_to_tsquery`.
    Web,
}

impl TsQuery {
    /// The PostgreSQL function.
    pub fn function(self) -> &'static str {
        match self {
            TsQuery::Plain => "to_tsquery",
            TsQuery::Plain2 => "plainto_tsquery",
            TsQuery::Phrase => "phraseto_tsquery",
            TsQuery::Web => "websearch_to_tsquery",
        }
    }
}

/// Logic trees nested deeper than this are refused: each level is a recursion of the parser and
/// of the SQL builder, and no query an app writes comes close.
pub const MAX_LOGIC_DEPTH: usize = 16;

impl Op {
    fn parse(text: &str) -> Option<Op> {
        Some(match text {
            "eq" => Op::Eq,
            "neq" => Op::Neq,
            "gt" => Op::Gt,
            "gte" => Op::Gte,
            "lt" => Op::Lt,
            "lte" => Op::Lte,
            "in" => Op::In,
            "is" => Op::Is,
            "like" => Op::Like,
            "ilike" => Op::Ilike,
            "cs" => Op::Cs,
            "cd" => Op::Cd,
            "ov" => Op::Ov,
            "fts" => Op::Fts(TsQuery::Plain),
            "plfts" => Op::Fts(TsQuery::Plain2),
            "phfts" => Op::Fts(TsQuery::Phrase),
            "wfts" => Op::Fts(TsQuery::Web),
            _ => return None,
        })
    }

    /// The SQL comparison for scalar operators.
    pub fn sql(self) -> &'static str {
        match self {
            Op::Eq | Op::In => "=",
            Op::Neq => "<>",
            Op::Gt => ">",
            Op::Gte => ">=",
            Op::Lt => "<",
            Op::Lte => "<=",
            Op::Is => "is",
            Op::Like => "like",
            Op::Ilike => "ilike",
            Op::Cs => "@>",
            Op::Cd => "<@",
            Op::Ov => "&&",
            Op::Fts(_) => "@@",
        }
    }
}

/// `column=op.value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// The column.
    pub column: String,
    /// The operator.
    pub op: Op,
    /// The value, still text; `in` values are split.
    pub value: FilterValue,
    /// `not.`: the comparison negated.
    pub negated: bool,
    /// The text search configuration of `fts(english)` and its kin.
    pub config: Option<String>,
}

/// The right-hand side of a filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterValue {
    /// One value.
    One(String),
    /// `in.(a,b,c)`.
    List(Vec<String>),
}

/// A condition of a logic tree (`or=(…)`, `and=(…)`), as PostgREST writes them:
/// `or=(updated_at.gt.X,and(updated_at.eq.X,id.gt.Y))`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// One comparison.
    Filter(Filter),
    /// Any of these.
    Any(Vec<Condition>),
    /// All of these.
    All(Vec<Condition>),
    /// `not.and(…)`, `not.or(…)`.
    Not(Box<Condition>),
}

/// One `order` key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderKey {
    /// The column.
    pub column: String,
    /// Descending.
    pub desc: bool,
    /// `nullsfirst` / `nullslast`, when given.
    pub nulls_first: Option<bool>,
}

/// A parsed query string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// Selected columns; empty means `*`.
    pub select: Vec<String>,
    /// Filters, ANDed.
    pub filters: Vec<Filter>,
    /// Logic trees, ANDed with the filters.
    pub logic: Vec<Condition>,
    /// Sort keys.
    pub order: Vec<OrderKey>,
    /// Row limit.
    pub limit: Option<u64>,
    /// Rows to skip.
    pub offset: Option<u64>,
    /// Upsert conflict target.
    pub on_conflict: Vec<String>,
}

impl Query {
    /// Parses a raw (still percent-encoded) query string.
    pub fn parse(raw: &str) -> Result<Query, RestError> {
        let mut query = Query::default();
        for pair in raw.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let key = decode(key);
            let value = decode(value);
            match key.as_str() {
                "select" => {
                    query.select = split_list(&value)
                        .into_iter()
                        .filter(|c| c != "*")
                        .collect();
                }
                "order" => {
                    for part in split_list(&value) {
                        query.order.push(parse_order(&part)?);
                    }
                }
                "limit" => query.limit = Some(parse_number(&value, "limit")?),
                "offset" => query.offset = Some(parse_number(&value, "offset")?),
                "on_conflict" => query.on_conflict = split_list(&value),
                "or" | "and" => query.logic.push(parse_logic(&key, &value, 1)?),
                "not.or" | "not.and" => {
                    query
                        .logic
                        .push(Condition::Not(Box::new(parse_logic(&key[4..], &value, 1)?)))
                }
                // Supabase client bookkeeping that changes nothing here.
                "columns" | "apikey" => {}
                column => query.filters.push(parse_filter(column, &value)?),
            }
        }
        Ok(query)
    }
}

fn parse_filter(column: &str, text: &str) -> Result<Filter, RestError> {
    let failed = || {
        parse_error(format!(
            "\"failed to parse filter ({text})\" (line 1, column 1)"
        ))
    };
    let (negated, text_after_not) = match text.strip_prefix("not.") {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (op, value) = text_after_not.split_once('.').ok_or_else(failed)?;
    // `fts(english)`: the operator carries its text search configuration.
    let (op, config) = match op.split_once('(') {
        Some((name, config)) => {
            let config = config.strip_suffix(')').ok_or_else(failed)?;
            (name, Some(config.to_owned()))
        }
        None => (op, None),
    };
    let op = Op::parse(op).ok_or_else(failed)?;
    if config.is_some() && !matches!(op, Op::Fts(_)) {
        return Err(failed());
    }
    let value = if op == Op::In {
        let inner = value
            .strip_prefix('(')
            .and_then(|v| v.strip_suffix(')'))
            .ok_or_else(|| parse_error(format!("\"failed to parse filter ({text})\"")))?;
        FilterValue::List(split_list(inner).into_iter().map(unquote).collect())
    } else if matches!(op, Op::Like | Op::Ilike) {
        FilterValue::One(value.replace('*', "%"))
    } else {
        FilterValue::One(value.to_owned())
    };
    Ok(Filter {
        column: column.to_owned(),
        op,
        value,
        negated,
        config,
    })
}

fn parse_logic(kind: &str, text: &str, depth: usize) -> Result<Condition, RestError> {
    if depth > MAX_LOGIC_DEPTH {
        return Err(
            RestError::new(400, "PGRST100", "\"failed to parse logic tree\"").with_details(
                format!("logic trees are nested at most {MAX_LOGIC_DEPTH} levels deep"),
            ),
        );
    }
    let inner = text
        .strip_prefix('(')
        .and_then(|t| t.strip_suffix(')'))
        .ok_or_else(|| parse_error(format!("\"failed to parse logic tree ({text})\"")))?;
    let mut items = Vec::new();
    for item in split_top_level(inner) {
        let (negated, item) = match item.strip_prefix("not.") {
            Some(rest) if rest.starts_with("and(") || rest.starts_with("or(") => (true, rest),
            _ => (false, item.as_str()),
        };
        let nested = ["and", "or"]
            .into_iter()
            .find(|k| item.starts_with(&format!("{k}(")));
        let condition = match nested {
            Some(k) => parse_logic(k, &item[k.len()..], depth + 1)?,
            None => {
                let (column, rest) = item.split_once('.').ok_or_else(|| {
                    parse_error(format!("\"failed to parse logic tree ({text})\""))
                })?;
                Condition::Filter(parse_filter(column, rest)?)
            }
        };
        items.push(if negated {
            Condition::Not(Box::new(condition))
        } else {
            condition
        });
    }
    Ok(if kind == "or" {
        Condition::Any(items)
    } else {
        Condition::All(items)
    })
}

/// Splits on commas outside parentheses and double quotes.
fn split_top_level(text: &str) -> Vec<String> {
    let (mut items, mut current, mut depth, mut quoted) =
        (Vec::new(), String::new(), 0usize, false);
    for c in text.chars() {
        match c {
            '"' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth = depth.saturating_sub(1),
            ',' if !quoted && depth == 0 => {
                items.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    items.push(current);
    items.into_iter().map(|s| s.trim().to_owned()).collect()
}

fn parse_order(text: &str) -> Result<OrderKey, RestError> {
    let mut parts = text.split('.');
    let column = parts.next().unwrap_or_default().to_owned();
    let mut key = OrderKey {
        column,
        desc: false,
        nulls_first: None,
    };
    for modifier in parts {
        match modifier {
            "asc" => key.desc = false,
            "desc" => key.desc = true,
            "nullsfirst" => key.nulls_first = Some(true),
            "nullslast" => key.nulls_first = Some(false),
            _ => return Err(parse_error(format!("\"failed to parse order ({text})\""))),
        }
    }
    Ok(key)
}

fn parse_number(text: &str, what: &str) -> Result<u64, RestError> {
    text.parse()
        .map_err(|_| parse_error(format!("\"failed to parse {what} ({text})\"")))
}

fn parse_error(details: String) -> RestError {
    RestError::new(400, "PGRST100", "\"failed to parse\" query string").with_details(details)
}

/// Splits on commas outside double quotes.
fn split_list(text: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            ',' if !quoted => items.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    if !current.is_empty() || !items.is_empty() {
        items.push(current);
    }
    items.into_iter().map(|s| s.trim().to_owned()).collect()
}

fn unquote(text: String) -> String {
    match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        Some(inner) => inner.replace("\\\"", "\""),
        None => text,
    }
}

/// Percent-decoding with `+` as space, as browsers encode query strings.
pub fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match u8::from_str_radix(&text[i + 1..i + 3], 16) {
                Ok(byte) => {
                    out.push(byte);
                    i += 2;
                }
                Err(_) => out.push(b'%'),
            },
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_catch_up_pull() {
        let query = Query::parse(
            "select=*&band_id=eq.b1&updated_at=gte.2026-11-23T10%3A00%3A00.000%2B00%3A00&order=updated_at.asc,id.asc&limit=1000",
        )
        .unwrap();
        assert!(query.select.is_empty());
        assert_eq!(query.filters.len(), 2);
        assert_eq!(
            query.filters[1].value,
            FilterValue::One("2026-11-23T10:00:00.000+00:00".into())
        );
        assert_eq!(query.order.len(), 2);
        assert_eq!(query.limit, Some(1000));
    }

    #[test]
    fn parses_in_lists_and_modifiers() {
        let query =
            Query::parse("id=in.(a,%22b,c%22)&order=title.desc.nullslast&deleted_at=is.null")
                .unwrap();
        assert_eq!(
            query.filters[0].value,
            FilterValue::List(vec!["a".into(), "b,c".into()])
        );
        assert!(query.order[0].desc);
        assert_eq!(query.order[0].nulls_first, Some(false));
        assert_eq!(query.filters[1].op, Op::Is);
    }

    #[test]
    fn parses_keyset_logic_trees() {
        let query = Query::parse(
            "or=(updated_at.gt.2026-01-01T00%3A00%3A03%2B00%3A00,and(updated_at.eq.2026-01-01T00%3A00%3A03%2B00%3A00,id.gt.s9))",
        )
        .unwrap();
        let Condition::Any(items) = &query.logic[0] else {
            panic!("an or")
        };
        assert_eq!(items.len(), 2);
        let Condition::All(inner) = &items[1] else {
            panic!("an and")
        };
        let Condition::Filter(last) = &inner[1] else {
            panic!("a filter")
        };
        assert_eq!((last.column.as_str(), last.op), ("id", Op::Gt));
        assert!(Query::parse("or=(nonsense)").is_err());
    }

    #[test]
    fn parses_negations_patterns_containment_and_text_search() {
        let query = Query::parse(
            "title=ilike.*wonder*&key=not.eq.E&tags=cs.%7Ba,b%7D&notes=fts(english).love&not.or=(tempo.lt.90,tempo.gt.120)",
        )
        .unwrap();
        let ops: Vec<_> = query.filters.iter().map(|f| (f.op, f.negated)).collect();
        assert_eq!(
            ops,
            [
                (Op::Ilike, false),
                (Op::Eq, true),
                (Op::Cs, false),
                (Op::Fts(TsQuery::Plain), false)
            ]
        );
        assert_eq!(query.filters[0].value, FilterValue::One("%wonder%".into()));
        assert_eq!(query.filters[3].config.as_deref(), Some("english"));
        assert!(matches!(query.logic[0], Condition::Not(_)));
        assert!(Query::parse("title=eq(english).x").is_err());
    }

    #[test]
    fn refuses_logic_trees_nested_too_deep_without_recursing_into_them() {
        let deep =
            |levels: usize| format!("or=({}id.eq.a{})", "or(".repeat(levels), ")".repeat(levels));
        assert!(Query::parse(&deep(MAX_LOGIC_DEPTH - 1)).is_ok());
        let error = Query::parse(&deep(MAX_LOGIC_DEPTH)).unwrap_err();
        assert_eq!((error.status, error.code.as_str()), (400, "PGRST100"));
        // The attack that used to overflow the stack.
        assert!(Query::parse(&deep(15_000)).is_err());
    }

    #[test]
    fn rejects_unknown_operators() {
        let error = Query::parse("title=regex.x").unwrap_err();
        assert_eq!(error.code, "PGRST100");
        assert_eq!(error.status, 400);
    }
}
