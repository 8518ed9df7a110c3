//! cty types, as Terraform describes them in schemas and in the dynamic pseudo-type encoding.

use std::collections::BTreeMap;

/// A cty type. Object attribute order is irrelevant to cty, so a sorted map keeps
/// encodings deterministic.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Type {
    Bool,
    Number,
    String,
    /// The dynamic pseudo-type: the concrete type travels with the value.
    Dynamic,
    List(Box<Type>),
    Set(Box<Type>),
    Map(Box<Type>),
    Object(BTreeMap<String, Type>),
    Tuple(Vec<Type>),
}

impl Type {
    pub fn list(t: Type) -> Type {
        Type::List(Box::new(t))
    }
    pub fn set(t: Type) -> Type {
        Type::Set(Box::new(t))
    }
    pub fn map(t: Type) -> Type {
        Type::Map(Box::new(t))
    }
    pub fn object<I, S>(attrs: I) -> Type
    where
        I: IntoIterator<Item = (S, Type)>,
        S: Into<String>,
    {
        Type::Object(attrs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// cty's JSON type encoding (`"string"`, `["list","string"]`, `["object",{...}]`), the form
    /// schemas carry in `Attribute.type` and dynamic values carry beside their value.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::{json, Value as J};
        match self {
            Type::Bool => json!("bool"),
            Type::Number => json!("number"),
            Type::String => json!("string"),
            Type::Dynamic => json!("dynamic"),
            Type::List(t) => json!(["list", t.to_json()]),
            Type::Set(t) => json!(["set", t.to_json()]),
            Type::Map(t) => json!(["map", t.to_json()]),
            Type::Object(attrs) => {
                let m: serde_json::Map<String, J> = attrs
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect();
                json!(["object", J::Object(m)])
            }
            Type::Tuple(ts) => json!(["tuple", ts.iter().map(Type::to_json).collect::<Vec<_>>()]),
        }
    }

    /// Parses cty's JSON type encoding. Optional-attribute markers (a third element of an
    /// object type) are accepted and ignored.
    pub fn from_json(v: &serde_json::Value) -> Option<Type> {
        use serde_json::Value as J;
        match v {
            J::String(s) => match s.as_str() {
                "bool" => Some(Type::Bool),
                "number" => Some(Type::Number),
                "string" => Some(Type::String),
                "dynamic" => Some(Type::Dynamic),
                _ => None,
            },
            J::Array(parts) => {
                let kind = parts.first()?.as_str()?;
                let arg = parts.get(1)?;
                match kind {
                    "list" => Some(Type::list(Type::from_json(arg)?)),
                    "set" => Some(Type::set(Type::from_json(arg)?)),
                    "map" => Some(Type::map(Type::from_json(arg)?)),
                    "object" => {
                        let mut attrs = BTreeMap::new();
                        for (k, t) in arg.as_object()? {
                            attrs.insert(k.clone(), Type::from_json(t)?);
                        }
                        Some(Type::Object(attrs))
                    }
                    "tuple" => Some(Type::Tuple(
                        arg.as_array()?
                            .iter()
                            .map(Type::from_json)
                            .collect::<Option<Vec<_>>>()?,
                    )),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// The JSON type encoding as bytes, as `tfplugin6.Schema.Attribute.type` wants it.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        self.to_json().to_string().into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip() {
        let t = Type::object([
            ("a", Type::String),
            ("b", Type::list(Type::map(Type::Number))),
            ("c", Type::Tuple(vec![Type::Bool, Type::Dynamic])),
            ("d", Type::set(Type::String)),
        ]);
        let j = t.to_json();
        assert_eq!(Type::from_json(&j), Some(t));
        assert_eq!(Type::String.to_json_bytes(), b"\"string\"".to_vec());
        assert_eq!(
            Type::list(Type::String).to_json_bytes(),
            br#"["list","string"]"#.to_vec()
        );
    }
}
