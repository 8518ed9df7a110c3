//! Schemas: what a provider, resource or data source accepts, built with a small fluent API.
//! Besides what Terraform needs, an attribute records two plan rules of ours: a default that
//! is filled in at plan time (so the plan shows it) and whether a change forces replacement.

use super::types::Type;
use super::value::Value;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default)]
pub struct Schema {
    pub version: i64,
    pub block: Block,
}

#[derive(Debug, Clone, Default)]
pub struct Block {
    pub attributes: Vec<Attribute>,
    pub blocks: Vec<NestedBlock>,
    pub description: String,
    pub deprecated: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nesting {
    Single,
    List,
    Set,
    Map,
    Group,
}

#[derive(Debug, Clone)]
pub struct NestedBlock {
    pub name: String,
    pub nesting: Nesting,
    pub block: Block,
    pub min_items: i64,
    pub max_items: i64,
}

#[derive(Debug, Clone)]
pub struct Attribute {
    pub name: String,
    /// Exactly one of `ty` and `nested` is set (the protocol requires it).
    pub ty: Option<Type>,
    pub nested: Option<(Nesting, Vec<Attribute>)>,
    pub description: String,
    pub required: bool,
    pub optional: bool,
    pub computed: bool,
    pub sensitive: bool,
    pub deprecated: bool,
    /// Filled in at plan time when the configuration leaves the attribute null.
    pub default: Option<Value>,
    /// A change to this attribute cannot be made in place.
    pub force_new: bool,
}

/// How a default reads in a description: strings quoted, numbers and booleans as written.
fn default_text(v: &Value) -> String {
    match v {
        Value::String(s) => format!("`{s:?}`"),
        Value::Bool(b) => format!("`{b}`"),
        Value::Number(n) => format!("`{n}`"),
        Value::List(_) | Value::Set(_) | Value::Tuple(_) if v.elements().is_empty() => {
            "`[]`".into()
        }
        Value::Map(m) | Value::Object(m) if m.is_empty() => "`{}`".into(),
        _ => "set by the provider".into(),
    }
}

impl Attribute {
    /// The description Terraform shows: the written one, and the default taken from the value
    /// itself, so the two can never disagree (a description that already names its default is
    /// left as written).
    pub fn documented_description(&self) -> String {
        match &self.default {
            Some(d) if !self.description.contains("Default") => {
                let sep = if self.description.is_empty() { "" } else { " " };
                format!("{}{sep}Default: {}.", self.description, default_text(d))
            }
            _ => self.description.clone(),
        }
    }

    pub fn new(name: &str, ty: Type) -> Attribute {
        Attribute {
            name: name.to_string(),
            ty: Some(ty),
            nested: None,
            description: String::new(),
            required: false,
            optional: false,
            computed: false,
            sensitive: false,
            deprecated: false,
            default: None,
            force_new: false,
        }
    }
    pub fn string(name: &str) -> Attribute {
        Attribute::new(name, Type::String)
    }
    pub fn bool(name: &str) -> Attribute {
        Attribute::new(name, Type::Bool)
    }
    pub fn number(name: &str) -> Attribute {
        Attribute::new(name, Type::Number)
    }
    pub fn string_map(name: &str) -> Attribute {
        Attribute::new(name, Type::map(Type::String))
    }
    pub fn string_list(name: &str) -> Attribute {
        Attribute::new(name, Type::list(Type::String))
    }
    pub fn string_set(name: &str) -> Attribute {
        Attribute::new(name, Type::set(Type::String))
    }
    /// A nested attribute (protocol 6 `nested_type`).
    pub fn nested(name: &str, nesting: Nesting, attrs: Vec<Attribute>) -> Attribute {
        Attribute {
            ty: None,
            nested: Some((nesting, attrs)),
            ..Attribute::new(name, Type::Dynamic)
        }
    }
    pub fn required(mut self) -> Attribute {
        self.required = true;
        self
    }
    pub fn optional(mut self) -> Attribute {
        self.optional = true;
        self
    }
    pub fn computed(mut self) -> Attribute {
        self.computed = true;
        self
    }
    pub fn sensitive(mut self) -> Attribute {
        self.sensitive = true;
        self
    }
    pub fn deprecated(mut self) -> Attribute {
        self.deprecated = true;
        self
    }
    pub fn force_new(mut self) -> Attribute {
        self.force_new = true;
        self
    }
    /// Optional with a default: the attribute is also computed so the plan can show the
    /// default value.
    pub fn default(mut self, v: impl Into<Value>) -> Attribute {
        self.optional = true;
        self.computed = true;
        self.default = Some(v.into());
        self
    }
    pub fn description(mut self, d: &str) -> Attribute {
        self.description = d.to_string();
        self
    }

    /// The cty type of this attribute's value.
    pub fn value_type(&self) -> Type {
        match (&self.ty, &self.nested) {
            (Some(t), _) => t.clone(),
            (None, Some((nesting, attrs))) => {
                let obj = Type::Object(
                    attrs
                        .iter()
                        .map(|a| (a.name.clone(), a.value_type()))
                        .collect(),
                );
                wrap(*nesting, obj)
            }
            (None, None) => Type::Dynamic,
        }
    }
}

fn wrap(nesting: Nesting, obj: Type) -> Type {
    match nesting {
        Nesting::Single | Nesting::Group => obj,
        Nesting::List => Type::list(obj),
        Nesting::Set => Type::set(obj),
        Nesting::Map => Type::map(obj),
    }
}

impl NestedBlock {
    pub fn new(name: &str, nesting: Nesting, block: Block) -> NestedBlock {
        NestedBlock {
            name: name.to_string(),
            nesting,
            block,
            min_items: 0,
            max_items: 0,
        }
    }
    /// A list block that may appear at most once (the usual `assume_role { ... }` shape).
    pub fn at_most_one(name: &str, block: Block) -> NestedBlock {
        NestedBlock {
            max_items: 1,
            ..NestedBlock::new(name, Nesting::List, block)
        }
    }
}

impl Block {
    pub fn new() -> Block {
        Block::default()
    }
    pub fn attr(mut self, a: Attribute) -> Block {
        self.attributes.push(a);
        self
    }
    pub fn block(mut self, b: NestedBlock) -> Block {
        self.blocks.push(b);
        self
    }
    pub fn description(mut self, d: &str) -> Block {
        self.description = d.to_string();
        self
    }
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    /// The object type of a value conforming to this block.
    pub fn value_type(&self) -> Type {
        let mut attrs: BTreeMap<String, Type> = self
            .attributes
            .iter()
            .map(|a| (a.name.clone(), a.value_type()))
            .collect();
        for b in &self.blocks {
            attrs.insert(b.name.clone(), wrap(b.nesting, b.block.value_type()));
        }
        Type::Object(attrs)
    }
}

impl Schema {
    pub fn new(version: i64, block: Block) -> Schema {
        Schema { version, block }
    }
    pub fn value_type(&self) -> Type {
        self.block.value_type()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_type_includes_nested_blocks() {
        let b = Block::new()
            .attr(Attribute::string("name").required())
            .attr(Attribute::nested(
                "cfg",
                Nesting::Single,
                vec![Attribute::number("n").optional()],
            ))
            .block(NestedBlock::at_most_one(
                "assume_role",
                Block::new().attr(Attribute::string("role_arn").required()),
            ));
        let t = b.value_type();
        assert_eq!(
            t,
            Type::object([
                ("name", Type::String),
                ("cfg", Type::object([("n", Type::Number)])),
                (
                    "assume_role",
                    Type::list(Type::object([("role_arn", Type::String)]))
                ),
            ])
        );
    }

    #[test]
    fn description_says_the_default_from_the_value() {
        let a = Attribute::number("disk_size")
            .default(20)
            .description("Root volume in GiB.");
        assert_eq!(
            a.documented_description(),
            "Root volume in GiB. Default: `20`."
        );
        let b = Attribute::string("ns")
            .default("default")
            .description("Namespace.");
        assert_eq!(
            b.documented_description(),
            "Namespace. Default: `\"default\"`."
        );
        let c = Attribute::bool("x")
            .default(true)
            .description("Default true, as written.");
        assert_eq!(c.documented_description(), "Default true, as written.");
    }

    #[test]
    fn default_makes_optional_computed() {
        let a = Attribute::bool("require_tls").default(true);
        assert!(a.optional && a.computed && !a.required);
    }
}
