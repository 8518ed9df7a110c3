//! Tagging: every AWS object a composite creates carries `platform:managed-by` and
//! `platform:owner = <resource type>/<name>`, plus the user's default and own tags.

use std::collections::BTreeMap;
use tfplugin_framework::{AttributePath, Diagnostics, Value};

pub const MANAGED_BY_KEY: &str = "platform:managed-by";
pub const MANAGED_BY_VALUE: &str = "platformkit";
pub const OWNER_KEY: &str = "platform:owner";

/// The owner tag value for a composite.
pub fn owner(resource_type: &str, name: &str) -> String {
    format!("{resource_type}/{name}")
}

/// Default tags, then resource tags (which win), then the platform tags (which nobody
/// may override: adoption after a crash relies on them).
pub fn merged(
    default_tags: &BTreeMap<String, String>,
    tags: &BTreeMap<String, String>,
    resource_type: &str,
    name: &str,
) -> BTreeMap<String, String> {
    let mut all = default_tags.clone();
    all.extend(tags.iter().map(|(k, v)| (k.clone(), v.clone())));
    all.insert(MANAGED_BY_KEY.to_string(), MANAGED_BY_VALUE.to_string());
    all.insert(OWNER_KEY.to_string(), owner(resource_type, name));
    all
}

/// The planned `tags_all`: [`merged`] once the name and the tags are known, else unknown.
pub fn planned_all(
    default_tags: &BTreeMap<String, String>,
    name: &Value,
    tags: &Value,
    resource_type: &str,
) -> Value {
    match (name, tags) {
        (Value::String(n), t) if t.is_wholly_known() => {
            Value::string_map(merged(default_tags, &t.to_string_map(), resource_type, n))
        }
        _ => Value::Unknown,
    }
}

/// The user's own tags out of a full tag set read from AWS: platform tags and tags equal
/// to a default tag are dropped, so import and read produce what the user wrote. A tag equal
/// to a default tag stays when `prior` (the resource's `tags` in the prior state) has its key:
/// the user wrote it too, and dropping it would show as drift in every plan.
pub fn user_tags(
    all: &BTreeMap<String, String>,
    default_tags: &BTreeMap<String, String>,
    prior: &Value,
) -> BTreeMap<String, String> {
    all.iter()
        .filter(|(k, _)| !k.starts_with("platform:"))
        .filter(|(k, v)| default_tags.get(*k) != Some(v) || !prior.get(k).is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Checks user tags (`map(string)` at `path`) against AWS's limits and the keys the provider
/// reserves: at most `max` tags (`note` says why, in the message), keys of 1 to 128 and
/// values of at most 256 characters of AWS's tag character set, no `platform:` or `aws:` keys.
pub fn validate(path: AttributePath, tags: &Value, max: usize, note: &str, d: &mut Diagnostics) {
    let Some(entries) = tags.entries() else {
        return;
    };
    if entries.len() > max {
        d.error_at(
            path.clone(),
            "Too many tags",
            format!("At most {max} tags{note}; got {}.", entries.len()),
        );
    }
    for (k, v) in entries {
        let p = path.clone().key(k);
        if k.starts_with("platform:") || k.starts_with("aws:") {
            d.error_at(
                p.clone(),
                "Reserved tag key",
                format!("Tag key {k:?} is reserved: \"platform:\" keys are set by the provider and \"aws:\" keys by AWS."),
            );
        }
        if k.is_empty() || k.chars().count() > 128 {
            d.error_at(
                p.clone(),
                "Invalid tag key",
                "Tag keys are 1 to 128 characters.",
            );
        }
        if let Some(c) = k.chars().find(|c| !tag_char(*c)) {
            d.error_at(
                p.clone(),
                "Invalid tag key",
                format!("Tag key {k:?} has the character {c:?}; {TAG_CHARS}."),
            );
        }
        if let Some(v) = v.as_str() {
            if v.chars().count() > 256 {
                d.error_at(
                    p.clone(),
                    "Invalid tag value",
                    format!(
                        "Tag values are at most 256 characters; the value of {k:?} has {}.",
                        v.chars().count()
                    ),
                );
            }
            if let Some(c) = v.chars().find(|c| !tag_char(*c)) {
                d.error_at(
                    p,
                    "Invalid tag value",
                    format!("The value of tag {k:?} has the character {c:?}; {TAG_CHARS}."),
                );
            }
        }
    }
}

/// What [`tag_char`] allows, for messages.
const TAG_CHARS: &str =
    "tags may contain letters, digits, white space and _ . : / = + - @ (AWS's tag character set)";

/// A character AWS accepts in tag keys and values: Unicode letters, digits and white space,
/// and `_ . : / = + - @`.
pub fn tag_char(c: char) -> bool {
    c.is_alphanumeric() || (c.is_whitespace() && !c.is_control()) || "_.:/=+-@".contains(c)
}

/// An error for each key of the user tags at `path` that the provider reserves (`platform:`,
/// `aws:`).
pub fn reserved_keys(path: AttributePath, tags: &Value, d: &mut Diagnostics) {
    let Some(m) = tags.entries() else { return };
    for k in m.keys() {
        if k.starts_with("platform:") || k.starts_with("aws:") {
            d.error_at(
                path.clone().key(k),
                "Reserved tag key",
                format!("Tag keys starting with `platform:` or `aws:` are reserved; {k:?} cannot be set."),
            );
        }
    }
}

/// What to change on an object whose tags are `have` so that they become `want`: the keys to
/// remove and the pairs to add or change. Every composite computes its tag updates with it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TagDiff {
    pub remove: Vec<String>,
    pub set: BTreeMap<String, String>,
}

impl TagDiff {
    pub fn between(have: &BTreeMap<String, String>, want: &BTreeMap<String, String>) -> TagDiff {
        TagDiff::between_keeping(have, want, |_| false)
    }

    /// As [`TagDiff::between`], never removing a key for which `keep` is true (keys AWS or
    /// another part of the provider manages).
    pub fn between_keeping(
        have: &BTreeMap<String, String>,
        want: &BTreeMap<String, String>,
        keep: impl Fn(&str) -> bool,
    ) -> TagDiff {
        TagDiff {
            remove: have
                .keys()
                .filter(|k| !want.contains_key(*k) && !keep(k))
                .cloned()
                .collect(),
            set: want
                .iter()
                .filter(|(k, v)| have.get(*k) != Some(*v))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.remove.is_empty() && self.set.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &[(&str, &str)]) -> BTreeMap<String, String> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn resource_tags_override_defaults_but_not_platform_tags() {
        let all = merged(
            &m(&[("team", "a"), ("env", "dev")]),
            &m(&[("team", "b"), ("platform:owner", "evil")]),
            "platform_state_backend",
            "x",
        );
        assert_eq!(all["team"], "b");
        assert_eq!(all["env"], "dev");
        assert_eq!(all["platform:owner"], "platform_state_backend/x");
        assert_eq!(all["platform:managed-by"], "platformkit");
    }

    #[test]
    fn user_tags_strip_platform_and_defaults() {
        let all = m(&[("team", "b"), ("env", "dev"), ("platform:owner", "o")]);
        assert_eq!(
            user_tags(&all, &m(&[("env", "dev")]), &Value::Null),
            m(&[("team", "b")])
        );
    }

    #[test]
    fn user_tags_keep_a_default_the_resource_also_sets() {
        let all = m(&[("team", "b"), ("stage", "dev"), ("platform:owner", "o")]);
        let prior = Value::string_map([("stage", "dev"), ("team", "b")]);
        assert_eq!(
            user_tags(&all, &m(&[("stage", "dev")]), &prior),
            m(&[("team", "b"), ("stage", "dev")])
        );
    }

    #[test]
    fn diff_sets_changed_and_removes_stale() {
        let have = m(&[("a", "1"), ("b", "2"), ("aws:x", "y")]);
        let want = m(&[("a", "1"), ("b", "3"), ("c", "4")]);
        let d = TagDiff::between(&have, &want);
        assert_eq!(d.remove, vec!["aws:x".to_string()]);
        assert_eq!(d.set, m(&[("b", "3"), ("c", "4")]));
        let kept = TagDiff::between_keeping(&have, &want, |k| k.starts_with("aws:"));
        assert!(kept.remove.is_empty());
        assert!(TagDiff::between(&want, &want).is_empty());
    }

    #[test]
    fn tag_rules() {
        let check = |pairs: &[(&str, &str)]| {
            let mut d = Diagnostics::new();
            validate(
                AttributePath::root("tags"),
                &Value::string_map(pairs.iter().copied()),
                5,
                "",
                &mut d,
            );
            d.0.iter()
                .map(|x| format!("{} {}", x.path.as_ref().expect("path"), x.summary))
                .collect::<Vec<_>>()
        };
        assert!(check(&[
            ("team", "a b"),
            ("cost-center", "x/y:z@w+1=2"),
            ("Ümlaut", "ü")
        ])
        .is_empty());
        let long = "v".repeat(257);
        let key = "k".repeat(129);
        assert_eq!(
            check(&[
                ("aws:x", "1"),
                ("a", &long),
                (&key, "1"),
                ("b", "a;b"),
                ("c*", "1")
            ]),
            vec![
                "tags[\"a\"] Invalid tag value",
                "tags[\"aws:x\"] Reserved tag key",
                "tags[\"b\"] Invalid tag value",
                "tags[\"c*\"] Invalid tag key",
                format!("tags[\"{key}\"] Invalid tag key").as_str(),
            ]
        );
    }
}
