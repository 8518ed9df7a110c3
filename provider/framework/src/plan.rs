//! Generic plan rules (docs/design.md "Plan is informative"):
//! - configuration is kept as written;
//! - defaults are filled in so the plan shows them;
//! - computed values Terraform carried over from prior state stay (no spurious
//!   "(known after apply)"); on create, computed values are unknown unless the resource
//!   derives them;
//! - `requires_replace` lists only `force_new` attributes whose value actually changes.

use super::diag::AttributePath;
use super::schema::{Attribute, Block};
use super::value::Value;

/// Applies defaults and the create-time unknowns to Terraform's proposed new state.
pub fn apply_rules(block: &Block, prior: &Value, config: &Value, proposed: &Value) -> Value {
    let mut planned = proposed.clone();
    if config.is_null() {
        return Value::Null;
    }
    for attr in &block.attributes {
        let cfg = config.get(&attr.name);
        let slot = planned.get_mut(&attr.name);
        if !cfg.is_null() {
            continue;
        }
        if let Some(default) = &attr.default {
            *slot = default.clone();
        } else if attr.computed && prior.is_null() {
            *slot = Value::Unknown;
        }
    }
    planned
}

/// Paths of `force_new` attributes whose planned value differs from prior state.
pub fn requires_replace(block: &Block, prior: &Value, planned: &Value) -> Vec<AttributePath> {
    if prior.is_null() || planned.is_null() {
        return Vec::new();
    }
    block
        .attributes
        .iter()
        .filter(|a: &&Attribute| a.force_new)
        .filter(|a| changed(prior.get(&a.name), planned.get(&a.name)))
        .map(|a| AttributePath::root(&a.name))
        .collect()
}

/// An unknown planned value counts as a change: it may turn out different.
fn changed(prior: &Value, planned: &Value) -> bool {
    planned.is_unknown() || prior != planned
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Attribute;

    fn block() -> Block {
        Block::new()
            .attr(Attribute::string("name").required().force_new())
            .attr(Attribute::bool("flag").default(true))
            .attr(Attribute::string("arn").computed())
            .attr(Attribute::string("note").optional())
    }

    #[test]
    fn create_fills_defaults_and_unknowns() {
        let config = Value::object([("name", Value::from("a"))]);
        let p = apply_rules(&block(), &Value::Null, &config, &config);
        assert_eq!(p.get("flag"), &Value::Bool(true));
        assert!(p.get("arn").is_unknown());
        assert!(p.get("note").is_null());
    }

    #[test]
    fn update_keeps_prior_computed_values() {
        let prior = Value::object([
            ("name", Value::from("a")),
            ("flag", Value::Bool(true)),
            ("arn", Value::from("arn:1")),
            ("note", Value::Null),
        ]);
        let config = Value::object([("name", Value::from("a")), ("note", Value::from("x"))]);
        // Terraform's proposed state carries prior computed values where config is null.
        let mut proposed = config.clone();
        proposed.set_attr("arn", Value::from("arn:1"));
        proposed.set_attr("flag", Value::Bool(true));
        let p = apply_rules(&block(), &prior, &config, &proposed);
        assert_eq!(p.get("arn").as_str(), Some("arn:1"));
        assert!(requires_replace(&block(), &prior, &p).is_empty());
    }

    #[test]
    fn replace_only_for_changed_force_new() {
        let prior = Value::object([("name", Value::from("a")), ("note", Value::from("x"))]);
        let planned = Value::object([("name", Value::from("b")), ("note", Value::from("y"))]);
        let r = requires_replace(&block(), &prior, &planned);
        assert_eq!(r, vec![AttributePath::root("name")]);
        let planned = Value::object([("name", Value::Unknown)]);
        assert_eq!(requires_replace(&block(), &prior, &planned).len(), 1);
    }

    #[test]
    fn destroy_plans_null() {
        let prior = Value::object([("name", Value::from("a"))]);
        assert!(apply_rules(&block(), &prior, &Value::Null, &Value::Null).is_null());
    }
}
