//! Names the resources of one configuration must not share, checked across resources.
//!
//! A resource's plan sees only its own configuration, so two `platform_environment` (or two
//! `platform_microservice`, or two `platform_state_backend`) with the same name would each
//! plan cleanly and then fight over the same AWS objects. Terraform starts a fresh provider
//! process for each graph walk (validate, plan, apply) and plans every resource instance
//! once in it (measured by `tests/test_bad_input.py` on 1.0.3 and 1.15.5), with one
//! exception: an instance that must be replaced is planned a second time with a null prior
//! state (the create half of the replacement), with the same configuration. So the names
//! claimed in this process's plan walk are the configuration's, and the second instance
//! to claim a name gets the diagnostic. The apply walk's re-plan runs in another process and
//! sees each name once again. Destroy plans and unknown names claim nothing.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Mutex, OnceLock};
use tfplugin_framework::PlanRequest;

/// One plan that claimed a name: its configuration (hashed) and whether it had a prior
/// state, and whether its replacement re-plan has been seen.
struct Claim {
    config: u64,
    had_prior: bool,
    replanned: bool,
}

type Claims = HashMap<(String, String), Vec<Claim>>;

fn claims() -> &'static Mutex<Claims> {
    static CLAIMS: OnceLock<Mutex<Claims>> = OnceLock::new();
    CLAIMS.get_or_init(Default::default)
}

fn fingerprint(config: &tfplugin_framework::Value) -> u64 {
    let mut h = DefaultHasher::new();
    format!("{config:?}").hash(&mut h);
    h.finish()
}

/// Claims `key` among the names of `kind` planned by this provider process for the plan
/// `req`. `false` when another resource instance already claimed it.
pub fn claim(kind: &str, key: &str, req: &PlanRequest) -> bool {
    claim_raw(kind, key, fingerprint(&req.config), !req.prior.is_null())
}

fn claim_raw(kind: &str, key: &str, config: u64, had_prior: bool) -> bool {
    let Ok(mut all) = claims().lock() else {
        // A panic elsewhere poisoned the lock: do not turn it into false duplicates.
        return true;
    };
    let entry = all.entry((kind.to_string(), key.to_string())).or_default();
    if entry.is_empty() {
        entry.push(Claim {
            config,
            had_prior,
            replanned: false,
        });
        return true;
    }
    // The create half of a replacement: same configuration, planned again without prior.
    if !had_prior {
        if let Some(c) = entry
            .iter_mut()
            .find(|c| c.config == config && c.had_prior && !c.replanned)
        {
            c.replanned = true;
            return true;
        }
    }
    entry.push(Claim {
        config,
        had_prior,
        replanned: false,
    });
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_claimed_once_per_kind() {
        assert!(claim_raw("test_kind_a", "dev", 1, false));
        assert!(!claim_raw("test_kind_a", "dev", 2, false));
        assert!(
            !claim_raw("test_kind_a", "dev", 1, false),
            "two new instances with one configuration are duplicates too"
        );
        assert!(claim_raw("test_kind_a", "prod", 1, false));
        assert!(claim_raw("test_kind_b", "dev", 1, false));
    }

    #[test]
    fn a_replacement_is_planned_twice_without_being_a_duplicate() {
        assert!(claim_raw("test_kind_c", "dev", 7, true));
        assert!(claim_raw("test_kind_c", "dev", 7, false), "the create half");
        assert!(!claim_raw("test_kind_c", "dev", 7, false), "only once");
        assert!(claim_raw("test_kind_c", "qa", 8, true));
        assert!(
            !claim_raw("test_kind_c", "qa", 9, false),
            "another configuration is another resource"
        );
    }
}
