//! cty values with null and unknown. Values do not carry their type: the schema supplies it
//! whenever a value is encoded or decoded, as in Terraform itself.

use std::collections::BTreeMap;
use std::fmt;

/// A cty number. Terraform numbers are arbitrary precision; the provider's attributes are
/// all integers or ordinary floats, so two exact representations cover what arrives.
#[derive(Debug, Clone, Copy)]
pub enum Number {
    Int(i64),
    Float(f64),
}

impl Number {
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Number::Int(i) => Some(i),
            Number::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(f as i64),
            Number::Float(_) => None,
        }
    }
    pub fn as_f64(&self) -> f64 {
        match *self {
            Number::Int(i) => i as f64,
            Number::Float(f) => f,
        }
    }
    /// Parses the decimal string form Terraform uses for numbers that do not fit a
    /// msgpack integer or float exactly.
    pub fn parse(s: &str) -> Option<Number> {
        if let Ok(i) = s.parse::<i64>() {
            return Some(Number::Int(i));
        }
        s.parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(Number::Float)
    }
}

impl PartialEq for Number {
    fn eq(&self, other: &Number) -> bool {
        match (self, other) {
            (Number::Int(a), Number::Int(b)) => a == b,
            _ => self.as_f64() == other.as_f64(),
        }
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Number::Int(i) => write!(f, "{i}"),
            Number::Float(x) => write!(f, "{x}"),
        }
    }
}

/// A cty value. `Null` and `Unknown` stand for a value of whatever type the schema says.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    #[default]
    Null,
    /// Not known until apply ("(known after apply)"). Refinements are accepted on the wire
    /// and dropped: the provider does not rely on them.
    Unknown,
    Bool(bool),
    Number(Number),
    String(String),
    List(Vec<Value>),
    Set(Vec<Value>),
    Map(BTreeMap<String, Value>),
    Object(BTreeMap<String, Value>),
    Tuple(Vec<Value>),
}

impl Value {
    pub fn string(s: impl Into<String>) -> Value {
        Value::String(s.into())
    }
    pub fn int(i: i64) -> Value {
        Value::Number(Number::Int(i))
    }
    pub fn object<I, S>(attrs: I) -> Value
    where
        I: IntoIterator<Item = (S, Value)>,
        S: Into<String>,
    {
        Value::Object(attrs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }
    /// A `map(string)` value from string pairs.
    pub fn string_map<I, K, V>(pairs: I) -> Value
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Value::Map(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), Value::String(v.into())))
                .collect(),
        )
    }
    /// A string value, or null when `None`.
    pub fn opt_string(s: Option<impl Into<String>>) -> Value {
        s.map_or(Value::Null, |s| Value::String(s.into()))
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
    pub fn is_unknown(&self) -> bool {
        matches!(self, Value::Unknown)
    }
    /// True when neither this value nor anything inside it is unknown.
    pub fn is_wholly_known(&self) -> bool {
        match self {
            Value::Unknown => false,
            Value::List(v) | Value::Set(v) | Value::Tuple(v) => {
                v.iter().all(Value::is_wholly_known)
            }
            Value::Map(m) | Value::Object(m) => m.values().all(Value::is_wholly_known),
            _ => true,
        }
    }

    /// The same value with every unknown replaced by null: what may be stored in state
    /// after a failed apply.
    pub fn unknown_as_null(&self) -> Value {
        match self {
            Value::Unknown => Value::Null,
            Value::List(v) => Value::List(v.iter().map(Value::unknown_as_null).collect()),
            Value::Set(v) => Value::Set(v.iter().map(Value::unknown_as_null).collect()),
            Value::Tuple(v) => Value::Tuple(v.iter().map(Value::unknown_as_null).collect()),
            Value::Map(m) => Value::Map(
                m.iter()
                    .map(|(k, v)| (k.clone(), v.unknown_as_null()))
                    .collect(),
            ),
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), v.unknown_as_null()))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// An attribute of an object value; `Null` when absent or when `self` is not an object.
    pub fn get(&self, name: &str) -> &Value {
        static NULL: Value = Value::Null;
        match self {
            Value::Object(m) | Value::Map(m) => m.get(name).unwrap_or(&NULL),
            _ => &NULL,
        }
    }
    /// Mutable access to an object's attribute, inserting null when absent. Panics-free:
    /// a non-object is first turned into an empty object.
    pub fn get_mut(&mut self, name: &str) -> &mut Value {
        if !matches!(self, Value::Object(_)) {
            *self = Value::Object(BTreeMap::new());
        }
        match self {
            Value::Object(m) => m.entry(name.to_string()).or_insert(Value::Null),
            _ => unreachable!("just made an object"),
        }
    }
    pub fn set_attr(&mut self, name: &str, v: Value) {
        *self.get_mut(name) = v;
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(n) => n.as_i64(),
            _ => None,
        }
    }
    /// Elements of a list, set or tuple (empty for anything else).
    pub fn elements(&self) -> &[Value] {
        match self {
            Value::List(v) | Value::Set(v) | Value::Tuple(v) => v,
            _ => &[],
        }
    }
    /// Entries of a map or object (`None` for anything else).
    pub fn entries(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Map(m) | Value::Object(m) => Some(m),
            _ => None,
        }
    }
    /// A `map(string)` as owned pairs, skipping null and unknown entries.
    pub fn to_string_map(&self) -> BTreeMap<String, String> {
        self.entries()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::int(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_compare_by_value() {
        assert_eq!(Number::Int(3), Number::Float(3.0));
        assert_eq!(Number::parse("42"), Some(Number::Int(42)));
        assert_eq!(Number::parse("1.5"), Some(Number::Float(1.5)));
        assert_eq!(Number::parse("x"), None);
        assert_eq!(Number::Float(7.0).as_i64(), Some(7));
    }

    #[test]
    fn object_access() {
        let mut v = Value::object([("a", Value::from("x"))]);
        assert_eq!(v.get("a").as_str(), Some("x"));
        assert!(v.get("missing").is_null());
        v.set_attr("b", Value::Unknown);
        assert!(!v.is_wholly_known());
    }
}
