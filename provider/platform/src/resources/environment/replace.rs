//! The rules for what AWS cannot change in place, each written once. Plan uses them to say
//! what will be replaced (and which ids it cannot keep); apply uses the same functions to
//! decide whether to delete and re-create. With one definition, the plan never shows an
//! in-place update that apply then performs as a replacement, or the other way round.
//!
//! A side that is not known (not yet planned, not reported by AWS) decides nothing here:
//! callers say what an unknown means for them.

use std::fmt;
use tfplugin_framework::Value;

/// A change AWS can only make by replacing the object: which attribute, from what, to what.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Replacement<'a> {
    pub attr: &'static str,
    pub from: &'a str,
    pub to: &'a str,
}

impl fmt::Display for Replacement<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} changes from {} to {}", self.attr, self.from, self.to)
    }
}

/// The settings of a DB instance that AWS cannot change once it exists.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct DatabaseFixed<'a> {
    pub engine: Option<&'a str>,
    pub master_username: Option<&'a str>,
}

impl<'a> DatabaseFixed<'a> {
    /// From a `database` block as in plan or state.
    pub fn of(block: &'a Value) -> Self {
        Self {
            engine: block.get("engine").as_str(),
            master_username: block.get("master_username").as_str(),
        }
    }
}

/// The first setting that would replace the DB instance going from `have` to `want`: AWS
/// cannot change an instance's engine or master user name.
pub(super) fn database<'a>(
    have: DatabaseFixed<'a>,
    want: DatabaseFixed<'a>,
) -> Option<Replacement<'a>> {
    [
        ("engine", have.engine, want.engine),
        (
            "master_username",
            have.master_username,
            want.master_username,
        ),
    ]
    .into_iter()
    .find_map(|(attr, from, to)| match (from, to) {
        (Some(from), Some(to)) if from != to => Some(Replacement { attr, from, to }),
        _ => None,
    })
}

/// The node-group attributes EKS cannot change in place (a launch template cannot resize
/// the root volume of running nodes either): a change to any of them replaces the group.
pub(super) const NODE_GROUP_FIXED: [&str; 3] = ["instance_types", "capacity_type", "disk_size"];

/// A node group's settings named in `NODE_GROUP_FIXED`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct NodeGroupFixed<'a> {
    pub instance_types: Vec<&'a str>,
    pub capacity_type: &'a str,
    pub disk_size: i64,
}

impl<'a> NodeGroupFixed<'a> {
    /// From a `node_groups` element as in plan or state; `None` while any of them is unknown.
    pub fn of(g: &'a Value) -> Option<Self> {
        let types = g.get("instance_types");
        if !types.is_wholly_known() || types.is_null() {
            return None;
        }
        Some(Self {
            instance_types: types.elements().iter().filter_map(Value::as_str).collect(),
            capacity_type: g.get("capacity_type").as_str()?,
            disk_size: g.get("disk_size").as_i64()?,
        })
    }
}

/// The attributes (in `NODE_GROUP_FIXED` order) whose change replaces the node group.
/// Instance types are a set to EKS: their order changes nothing.
pub(super) fn node_group(have: &NodeGroupFixed, want: &NodeGroupFixed) -> Vec<&'static str> {
    fn sorted<'s>(v: &[&'s str]) -> Vec<&'s str> {
        let mut v = v.to_vec();
        v.sort_unstable();
        v
    }
    let differs = [
        sorted(&have.instance_types) != sorted(&want.instance_types),
        have.capacity_type != want.capacity_type,
        have.disk_size != want.disk_size,
    ];
    NODE_GROUP_FIXED
        .into_iter()
        .zip(differs)
        .filter_map(|(k, d)| d.then_some(k))
        .collect()
}

/// Why EKS refuses a version change: it upgrades one minor version at a time and never
/// downgrades.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum VersionRefusal {
    Downgrade {
        had: String,
        want: String,
    },
    Skip {
        had: String,
        want: String,
        next: i64,
    },
}

impl VersionRefusal {
    /// The one-line summary (a diagnostic's title).
    pub fn summary(&self) -> &'static str {
        match self {
            Self::Downgrade { .. } => "EKS cannot downgrade a cluster",
            Self::Skip { .. } => "EKS upgrades one minor version at a time",
        }
    }
}

/// The detail: what the cluster runs and what to do instead.
impl fmt::Display for VersionRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Downgrade { had, want } => write!(
                f,
                "The cluster runs Kubernetes {had}; EKS cannot go back to {want}. Keep version = {had:?} (or a later version)."
            ),
            Self::Skip { had, want, next } => write!(
                f,
                "The cluster runs Kubernetes {had}; EKS cannot go straight to {want}. Apply version = \"1.{next}\" first, then the next, up to {want}."
            ),
        }
    }
}

/// Whether the cluster's Kubernetes version must be upgraded from `had` to `want`
/// (`Ok(false)`: it is already there), or why EKS cannot. Versions that are not `1.<minor>`
/// are left to EKS to judge.
pub(super) fn cluster_version(had: &str, want: &str) -> Result<bool, VersionRefusal> {
    if had == want {
        return Ok(false);
    }
    let minor = |v: &str| v.strip_prefix("1.").and_then(|m| m.parse::<i64>().ok());
    let (Some(a), Some(b)) = (minor(had), minor(want)) else {
        return Ok(true);
    };
    let (had, want) = (had.to_string(), want.to_string());
    if b < a {
        Err(VersionRefusal::Downgrade { had, want })
    } else if b > a + 1 {
        Err(VersionRefusal::Skip {
            had,
            want,
            next: a + 1,
        })
    } else {
        Ok(a != b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_engine_or_user_change_replaces_unknown_decides_nothing() {
        let have = DatabaseFixed {
            engine: Some("postgres"),
            master_username: Some("platform"),
        };
        let want = DatabaseFixed {
            engine: Some("mysql"),
            ..have
        };
        assert_eq!(
            database(have, want).map(|r| r.to_string()),
            Some("engine changes from postgres to mysql".into())
        );
        let want = DatabaseFixed {
            master_username: Some("admin"),
            ..have
        };
        assert_eq!(
            database(have, want).map(|r| r.attr),
            Some("master_username")
        );
        assert_eq!(database(DatabaseFixed::default(), want), None);
        assert_eq!(database(have, have), None);
    }

    #[test]
    fn node_group_instance_type_order_changes_nothing() {
        let have = NodeGroupFixed {
            instance_types: vec!["t3.medium", "t3.large"],
            capacity_type: "ON_DEMAND",
            disk_size: 20,
        };
        let reordered = NodeGroupFixed {
            instance_types: vec!["t3.large", "t3.medium"],
            ..have.clone()
        };
        assert!(node_group(&have, &reordered).is_empty());
        let bigger = NodeGroupFixed {
            capacity_type: "SPOT",
            disk_size: 40,
            ..have.clone()
        };
        assert_eq!(node_group(&have, &bigger), ["capacity_type", "disk_size"]);
    }

    #[test]
    fn cluster_version_one_minor_up_only() {
        assert_eq!(cluster_version("1.31", "1.31"), Ok(false));
        assert_eq!(cluster_version("1.31", "1.32"), Ok(true));
        assert!(matches!(
            cluster_version("1.32", "1.31"),
            Err(VersionRefusal::Downgrade { .. })
        ));
        assert!(matches!(
            cluster_version("1.30", "1.32"),
            Err(VersionRefusal::Skip { next: 31, .. })
        ));
    }
}
