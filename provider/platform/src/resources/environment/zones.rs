//! Plan-time checks of `availability_zones` against the provider: every AZ must be in the
//! provider's region (known without a call), and an AZ the plan adds must exist for the
//! account. Existence cannot be known without asking AWS (which zone letters an account
//! has differs between accounts), so the provider process asks once —
//! DescribeAvailabilityZones, cached per region for the life of the process — and only
//! when a plan adds AZs that are not already in the prior state.

use platform_aws::step::Step;
use platform_aws::AwsContext;
use std::collections::{BTreeSet, HashMap};
use tfplugin_framework::{AttributePath, Diagnostics, PlanRequest, Value};
use tokio::sync::Mutex;

type Zones = Result<BTreeSet<String>, String>;

/// The region's zone names, asked once per provider process and region. The lock is held
/// across the call, so plans running concurrently wait for the one call.
async fn zones(aws: &AwsContext) -> Zones {
    static CACHE: std::sync::OnceLock<Mutex<HashMap<String, Zones>>> = std::sync::OnceLock::new();
    let mut cache = CACHE.get_or_init(Default::default).lock().await;
    if let Some(z) = cache.get(&aws.region) {
        return z.clone();
    }
    let z = aws
        .ec2()
        .describe_availability_zones()
        .send()
        .await
        .step("DescribeAvailabilityZones")
        .map(|o| {
            o.availability_zones()
                .iter()
                .filter_map(|z| z.zone_name().map(str::to_string))
                .collect()
        })
        .map_err(|e| e.to_string());
    cache.insert(aws.region.clone(), z.clone());
    z
}

/// Checks the planned AZs against the provider's region, then (only for AZs the plan adds)
/// against the zones AWS reports.
pub(super) async fn check(
    aws: &AwsContext,
    req: &PlanRequest,
    planned: &Value,
    d: &mut Diagnostics,
) {
    let azs_v = planned.get("availability_zones");
    if !azs_v.is_wholly_known() {
        return;
    }
    let azs: Vec<&str> = azs_v.elements().iter().filter_map(Value::as_str).collect();
    let path = |i: usize| AttributePath::root("availability_zones").index(i as i64);
    let mut ok = true;
    for (i, az) in azs.iter().enumerate() {
        match platform_aws::regions::az_region(az) {
            Ok(r) if r != aws.region => {
                ok = false;
                d.error_at(
                    path(i),
                    "Availability zone not in the provider's region",
                    format!(
                        "{az:?} is in {r}, but this provider works in {}. An environment's subnets live in the provider's region: list AZs of {} or configure a provider (alias) for {r}.",
                        aws.region, aws.region
                    ),
                );
            }
            Ok(_) => {}
            // Validation already reported the form.
            Err(_) => ok = false,
        }
    }
    let before: BTreeSet<&str> = req
        .prior
        .get("availability_zones")
        .elements()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let added: Vec<(usize, &str)> = azs
        .iter()
        .copied()
        .enumerate()
        .filter(|(_, az)| !before.contains(az))
        .collect();
    if !ok || added.is_empty() {
        return;
    }
    match zones(aws).await {
        Ok(known) => {
            for (i, az) in added {
                if !known.contains(az) {
                    d.error_at(
                        path(i),
                        "Unknown availability zone",
                        format!(
                            "{az:?} is not an availability zone of {} for this account; it has {}.",
                            aws.region,
                            known.iter().cloned().collect::<Vec<_>>().join(", ")
                        ),
                    );
                }
            }
        }
        Err(e) => d.warning_at(
            AttributePath::root("availability_zones"),
            "Availability zones not checked",
            format!("Could not list the region's availability zones ({e}); the AZs are checked when the subnets are created."),
        ),
    }
}
