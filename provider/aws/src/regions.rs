//! The AWS regions the provider knows, and the checks built on them: region names (with a
//! "did you mean" for a typo) and availability-zone names, all without an AWS call.
//!
//! The list is maintained by hand. It follows the partitions the pinned AWS SDK crates know
//! (their generated `endpoint_lib` partition data); when AWS opens a region, add it here.

/// Every region of every AWS partition, sorted.
pub const REGIONS: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "cn-north-1",
    "cn-northwest-1",
    "eu-central-1",
    "eu-central-2",
    "eu-isoe-west-1",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eusc-de-east-1",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-gov-east-1",
    "us-gov-west-1",
    "us-iso-east-1",
    "us-iso-west-1",
    "us-isob-east-1",
    "us-isob-west-1",
    "us-isof-east-1",
    "us-isof-south-1",
    "us-west-1",
    "us-west-2",
];

/// Whether `r` is a region in [`REGIONS`].
pub fn is_region(r: &str) -> bool {
    REGIONS.binary_search(&r).is_ok()
}

/// Levenshtein distance between two short ASCII strings.
fn distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let subst = prev[j] + usize::from(ca != cb);
            cur[j + 1] = subst.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The known regions closest to `r` when `r` looks like a typo of them: those at the
/// smallest edit distance, if it is at most two and no more than three regions share it.
pub fn suggest(r: &str) -> Vec<&'static str> {
    let lower = r.to_ascii_lowercase();
    let scored: Vec<(usize, &'static str)> = REGIONS
        .iter()
        .map(|k| (distance(&lower, k), *k))
        .filter(|(d, _)| *d <= 2)
        .collect();
    let Some(best) = scored.iter().map(|(d, _)| *d).min() else {
        return Vec::new();
    };
    let closest: Vec<&'static str> = scored
        .into_iter()
        .filter(|(d, _)| *d == best)
        .map(|(_, k)| k)
        .collect();
    if closest.len() > 3 {
        Vec::new()
    } else {
        closest
    }
}

/// " or "-joined quoted names, each with `suffix` appended.
fn alternatives(names: &[&str], suffix: &str) -> String {
    names
        .iter()
        .map(|n| format!("\"{n}{suffix}\""))
        .collect::<Vec<_>>()
        .join(" or ")
}

/// `Ok` for a known region; otherwise the detail of an "Invalid AWS region" diagnostic,
/// with a suggestion when `r` looks like a typo of a known one.
pub fn check_region(r: &str) -> Result<(), String> {
    if is_region(r) {
        return Ok(());
    }
    let s = suggest(r);
    if s.is_empty() {
        Err(format!(
            "{r:?} is not an AWS region (expected a region name such as \"us-east-1\" or \"eu-central-1\")."
        ))
    } else {
        Err(format!(
            "{r:?} is not an AWS region; did you mean {}?",
            alternatives(&s, "")
        ))
    }
}

/// An availability zone as the provider accepts it: `<region><letter>` with a known region
/// and a letter a-h (`us-east-1a`). Returns the region. AZ ids (`use1-az1`) and Local or
/// Wavelength Zones are refused with what to write instead.
pub fn az_region(az: &str) -> Result<&str, String> {
    if looks_like_az_id(az) {
        return Err(format!(
            "{az:?} is an availability-zone id; give the zone name instead (e.g. \"us-east-1a\"): each AZ's subnets are laid out by its zone letter"
        ));
    }
    let Some(letter) = az.chars().last() else {
        return Err("an availability zone name cannot be empty".into());
    };
    let region = &az[..az.len() - letter.len_utf8()];
    if !letter.is_ascii_lowercase() || is_region(az) {
        return Err(format!(
            "{az:?} is not an availability zone name: it is a region followed by a zone letter, e.g. \"us-east-1a\""
        ));
    }
    if !is_region(region) {
        let s = suggest(region);
        let hint = match s.first() {
            Some(_) => format!("; did you mean {}?", alternatives(&s, &letter.to_string())),
            None if region.split('-').count() > 3 && region.chars().last().is_some_and(|c| c.is_ascii_digit()) => {
                " (Local and Wavelength Zones are not supported: give availability zones of the region)".into()
            }
            None => String::new(),
        };
        return Err(format!(
            "{az:?} is not an availability zone of a known AWS region ({region:?} is not a region){hint}"
        ));
    }
    if !('a'..='h').contains(&letter) {
        return Err(format!(
            "{az:?} has the zone letter {letter:?}; AWS availability zones use the letters a to h"
        ));
    }
    Ok(region)
}

/// `use1-az1`, `euc1-az3`: a region abbreviation, `-az` and a number.
fn looks_like_az_id(s: &str) -> bool {
    let Some((abbrev, n)) = s.split_once("-az") else {
        return false;
    };
    !abbrev.is_empty()
        && abbrev.bytes().all(|b| b.is_ascii_alphanumeric())
        && abbrev.bytes().any(|b| b.is_ascii_digit())
        && !n.is_empty()
        && n.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_sorted_and_unique() {
        let mut sorted = REGIONS.to_vec();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, REGIONS);
    }

    #[test]
    fn known_regions() {
        for r in [
            "us-east-1",
            "eu-central-1",
            "us-gov-west-1",
            "cn-north-1",
            "mx-central-1",
        ] {
            assert!(check_region(r).is_ok(), "{r}");
        }
        for r in ["", "us-east", "moon-base-1", "us-east-9", "useast1"] {
            assert!(check_region(r).is_err(), "{r}");
        }
    }

    #[test]
    fn typos_get_a_suggestion() {
        assert_eq!(suggest("us-est-1"), vec!["us-east-1", "us-west-1"]);
        assert_eq!(suggest("eu-centrl-1"), vec!["eu-central-1"]);
        assert_eq!(suggest("US-EAST-1"), vec!["us-east-1"]);
        assert!(
            suggest("ap-southeast-9").is_empty(),
            "seven regions are one edit away"
        );
        assert!(suggest("moon-base-1").is_empty());
        assert!(check_region("us-est-1")
            .unwrap_err()
            .contains("did you mean \"us-east-1\""));
    }

    #[test]
    fn availability_zones() {
        assert_eq!(az_region("us-east-1a"), Ok("us-east-1"));
        assert_eq!(az_region("us-gov-west-1b"), Ok("us-gov-west-1"));
        assert!(az_region("use1-az1")
            .unwrap_err()
            .contains("availability-zone id"));
        assert!(az_region("us-east-1").unwrap_err().contains("zone letter"));
        assert!(az_region("us-east-1z")
            .unwrap_err()
            .contains("letters a to h"));
        assert!(az_region("us-est-1a")
            .unwrap_err()
            .contains("did you mean \"us-east-1a\""));
        assert!(az_region("us-east-1-bos-1a")
            .unwrap_err()
            .contains("Local and Wavelength"));
        assert!(az_region("").is_err());
    }
}
