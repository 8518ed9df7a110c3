//! Generic plan rules (docs/design.md "Plan is informative"), at every depth: top-level
//! attributes, nested attributes (`Attribute::nested`) and nested blocks alike:
//! - configuration is kept as written;
//! - defaults are filled in so the plan shows them;
//! - computed values Terraform carried over from prior state stay (no spurious
//!   "(known after apply)"); on create — or for a nested element that did not exist before —
//!   computed values are unknown unless the resource derives them;
//! - `requires_replace` lists only `force_new` attributes whose value actually changes, with
//!   the path to them (`node_groups[1].instance_types`).
//!
//! Elements of list nestings are paired with prior elements by index and map nestings by key,
//! as Terraform pairs them in the proposed new state. Set nestings are left as Terraform
//! proposes them: set elements have no identity to pair a prior element with, so a default or
//! `force_new` inside a set is not supported. An element added or removed is not a replacement
//! by itself; a composite that must replace a part when a list grows says so in `modify_plan`.

use super::diag::AttributePath;
use super::schema::{Attribute, Block, NestedBlock, Nesting};
use super::value::Value;

/// Applies defaults and the create-time unknowns to Terraform's proposed new state.
pub fn apply_rules(block: &Block, prior: &Value, config: &Value, proposed: &Value) -> Value {
    if config.is_null() {
        return Value::Null;
    }
    let mut planned = proposed.clone();
    plan_object(
        &block.attributes,
        &block.blocks,
        prior,
        config,
        &mut planned,
        Rules::Plan,
    );
    planned
}

/// A configuration with its defaults filled in, at every depth, and nothing else: what a data
/// source reads with, so it never restates the schema's defaults by hand.
pub fn with_defaults(block: &Block, config: &Value) -> Value {
    let mut v = config.clone();
    plan_object(
        &block.attributes,
        &block.blocks,
        &Value::Null,
        config,
        &mut v,
        Rules::DefaultsOnly,
    );
    v
}

/// Which rules run: all of them for a plan, only the defaults for a data source's configuration.
#[derive(Clone, Copy, PartialEq)]
enum Rules {
    Plan,
    DefaultsOnly,
}

/// The rules for one object (the resource, a nested attribute's object, a block element).
fn plan_object(
    attrs: &[Attribute],
    blocks: &[NestedBlock],
    prior: &Value,
    config: &Value,
    planned: &mut Value,
    rules: Rules,
) {
    if !matches!(planned, Value::Object(_)) {
        return;
    }
    for attr in attrs {
        let cfg = config.get(&attr.name);
        let prior_value = prior.get(&attr.name);
        let slot = planned.get_mut(&attr.name);
        if cfg.is_null() {
            if let Some(default) = &attr.default {
                *slot = default.clone();
            } else if attr.computed && prior.is_null() && rules == Rules::Plan {
                *slot = Value::Unknown;
            }
            continue;
        }
        if let Some((nesting, nested)) = &attr.nested {
            plan_nested(*nesting, nested, &[], prior_value, cfg, slot, rules);
        }
    }
    for b in blocks {
        let cfg = config.get(&b.name);
        let prior_value = prior.get(&b.name);
        let slot = planned.get_mut(&b.name);
        plan_nested(
            b.nesting,
            &b.block.attributes,
            &b.block.blocks,
            prior_value,
            cfg,
            slot,
            rules,
        );
    }
}

fn plan_nested(
    nesting: Nesting,
    attrs: &[Attribute],
    blocks: &[NestedBlock],
    prior: &Value,
    config: &Value,
    planned: &mut Value,
    rules: Rules,
) {
    static NULL: Value = Value::Null;
    match (nesting, planned) {
        (Nesting::Single | Nesting::Group, p) => {
            plan_object(attrs, blocks, prior, config, p, rules)
        }
        (Nesting::List, Value::List(elements)) => {
            for (i, el) in elements.iter_mut().enumerate() {
                let c = config.elements().get(i).unwrap_or(&NULL);
                let p = prior.elements().get(i).unwrap_or(&NULL);
                plan_object(attrs, blocks, p, c, el, rules);
            }
        }
        (Nesting::Map, Value::Map(entries)) => {
            for (k, el) in entries.iter_mut() {
                plan_object(attrs, blocks, prior.get(k), config.get(k), el, rules);
            }
        }
        // Sets (no element identity) and unknown or null collections are left as proposed.
        _ => {}
    }
}

/// Paths of `force_new` attributes, at any depth, whose planned value differs from prior state.
pub fn requires_replace(block: &Block, prior: &Value, planned: &Value) -> Vec<AttributePath> {
    let mut out = Vec::new();
    if prior.is_null() || planned.is_null() {
        return out;
    }
    replace_in(
        &block.attributes,
        &block.blocks,
        prior,
        planned,
        None,
        &mut out,
    );
    out
}

fn child(base: &Option<AttributePath>, name: &str) -> AttributePath {
    match base {
        Some(p) => p.clone().attr(name),
        None => AttributePath::root(name),
    }
}

fn replace_in(
    attrs: &[Attribute],
    blocks: &[NestedBlock],
    prior: &Value,
    planned: &Value,
    base: Option<AttributePath>,
    out: &mut Vec<AttributePath>,
) {
    for a in attrs {
        let path = child(&base, &a.name);
        let (p, n) = (prior.get(&a.name), planned.get(&a.name));
        if a.force_new {
            if changed(p, n) {
                out.push(path);
            }
        } else if let Some((nesting, nested)) = &a.nested {
            replace_nested(*nesting, nested, &[], p, n, path, out);
        }
    }
    for b in blocks {
        let path = child(&base, &b.name);
        let (p, n) = (prior.get(&b.name), planned.get(&b.name));
        replace_nested(
            b.nesting,
            &b.block.attributes,
            &b.block.blocks,
            p,
            n,
            path,
            out,
        );
    }
}

fn replace_nested(
    nesting: Nesting,
    attrs: &[Attribute],
    blocks: &[NestedBlock],
    prior: &Value,
    planned: &Value,
    path: AttributePath,
    out: &mut Vec<AttributePath>,
) {
    if prior.is_null() || planned.is_null() {
        return;
    }
    if planned.is_unknown() {
        // The whole nested value may turn out different: replacement if anything in it forces one.
        if has_force_new(attrs, blocks) {
            out.push(path);
        }
        return;
    }
    match nesting {
        Nesting::Single | Nesting::Group => {
            replace_in(attrs, blocks, prior, planned, Some(path), out)
        }
        Nesting::List => {
            for (i, (p, n)) in prior.elements().iter().zip(planned.elements()).enumerate() {
                let at = path.clone().index(i as i64);
                replace_in(attrs, blocks, p, n, Some(at), out);
            }
        }
        Nesting::Map => {
            if let (Some(pm), Some(nm)) = (prior.entries(), planned.entries()) {
                for (k, n) in nm {
                    if let Some(p) = pm.get(k) {
                        replace_in(attrs, blocks, p, n, Some(path.clone().key(k)), out);
                    }
                }
            }
        }
        Nesting::Set => {}
    }
}

fn has_force_new(attrs: &[Attribute], blocks: &[NestedBlock]) -> bool {
    attrs.iter().any(|a| {
        a.force_new
            || a.nested
                .as_ref()
                .is_some_and(|(_, nested)| has_force_new(nested, &[]))
    }) || blocks
        .iter()
        .any(|b| has_force_new(&b.block.attributes, &b.block.blocks))
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
    fn data_source_configuration_gets_defaults_but_no_unknowns() {
        let config = Value::object([
            ("name", Value::from("e")),
            (
                "settings",
                Value::object([("encrypted", Value::Null), ("key", Value::Null)]),
            ),
            (
                "groups",
                Value::List(vec![group("a", Value::Null, Value::Null)]),
            ),
        ]);
        let v = with_defaults(&nested_block(), &config);
        assert_eq!(v.get("settings").get("encrypted"), &Value::Bool(true));
        assert_eq!(
            v.get("groups").elements()[0].get("disk_size"),
            &Value::int(20)
        );
        assert!(v.get("groups").elements()[0].get("arn").is_null());
    }

    #[test]
    fn destroy_plans_null() {
        let prior = Value::object([("name", Value::from("a"))]);
        assert!(apply_rules(&block(), &prior, &Value::Null, &Value::Null).is_null());
    }

    fn nested_block() -> Block {
        let group = Block::new()
            .attr(Attribute::string("name").required().force_new())
            .attr(Attribute::number("disk_size").default(20))
            .attr(Attribute::string("arn").computed());
        Block::new()
            .attr(Attribute::string("name").required())
            .attr(Attribute::nested(
                "settings",
                Nesting::Single,
                vec![
                    Attribute::bool("encrypted").default(true),
                    Attribute::string("key").optional().force_new(),
                ],
            ))
            .block(NestedBlock::new("groups", Nesting::List, group))
    }

    fn group(name: &str, disk: Value, arn: Value) -> Value {
        Value::object([
            ("name", Value::from(name)),
            ("disk_size", disk),
            ("arn", arn),
        ])
    }

    #[test]
    fn defaults_and_unknowns_reach_nested_attributes_and_blocks() {
        let config = Value::object([
            ("name", Value::from("e")),
            (
                "settings",
                Value::object([("encrypted", Value::Null), ("key", Value::Null)]),
            ),
            (
                "groups",
                Value::List(vec![group("a", Value::Null, Value::Null)]),
            ),
        ]);
        let p = apply_rules(&nested_block(), &Value::Null, &config, &config);
        assert_eq!(p.get("settings").get("encrypted"), &Value::Bool(true));
        let g = &p.get("groups").elements()[0];
        assert_eq!(g.get("disk_size"), &Value::int(20));
        assert!(g.get("arn").is_unknown());
    }

    #[test]
    fn a_new_element_gets_unknowns_an_old_one_keeps_its_prior_values() {
        let prior = Value::object([
            ("name", Value::from("e")),
            ("settings", Value::Null),
            (
                "groups",
                Value::List(vec![group("a", Value::int(20), Value::from("arn:a"))]),
            ),
        ]);
        let config = Value::object([
            ("name", Value::from("e")),
            ("settings", Value::Null),
            (
                "groups",
                Value::List(vec![
                    group("a", Value::Null, Value::Null),
                    group("b", Value::int(50), Value::Null),
                ]),
            ),
        ]);
        // Terraform's proposed state carries the prior computed value of the element it pairs by index.
        let proposed = Value::object([
            ("name", Value::from("e")),
            ("settings", Value::Null),
            (
                "groups",
                Value::List(vec![
                    group("a", Value::int(20), Value::from("arn:a")),
                    group("b", Value::int(50), Value::Null),
                ]),
            ),
        ]);
        let p = apply_rules(&nested_block(), &prior, &config, &proposed);
        let gs = p.get("groups").elements();
        assert_eq!(gs[0].get("arn").as_str(), Some("arn:a"));
        assert_eq!(gs[0].get("disk_size"), &Value::int(20));
        assert!(gs[1].get("arn").is_unknown());
        assert_eq!(gs[1].get("disk_size"), &Value::int(50));
        // Adding an element is not a replacement.
        assert!(requires_replace(&nested_block(), &prior, &p).is_empty());
    }

    #[test]
    fn force_new_inside_nested_values_names_the_path() {
        let prior = Value::object([
            ("name", Value::from("e")),
            (
                "settings",
                Value::object([("encrypted", Value::Bool(true)), ("key", Value::from("k1"))]),
            ),
            (
                "groups",
                Value::List(vec![
                    group("a", Value::int(20), Value::from("arn:a")),
                    group("b", Value::int(20), Value::from("arn:b")),
                ]),
            ),
        ]);
        let mut planned = prior.clone();
        planned.set_attr(
            "settings",
            Value::object([("encrypted", Value::Bool(true)), ("key", Value::from("k2"))]),
        );
        planned.set_attr(
            "groups",
            Value::List(vec![
                group("a", Value::int(30), Value::from("arn:a")),
                group("c", Value::int(20), Value::from("arn:b")),
            ]),
        );
        let r = requires_replace(&nested_block(), &prior, &planned);
        assert_eq!(
            r,
            vec![
                AttributePath::root("settings").attr("key"),
                AttributePath::root("groups").index(1).attr("name"),
            ]
        );
        // An unknown nested object that holds a force_new attribute may change it.
        planned.set_attr("settings", Value::Unknown);
        assert!(requires_replace(&nested_block(), &prior, &planned)
            .contains(&AttributePath::root("settings")));
    }
}
