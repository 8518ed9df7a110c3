//! Apply: converge AWS to the plan, and delete. Create, update, drift repair and resume
//! after a crash are one code path (`converge`): each part observes what exists and creates
//! or updates only what differs, and whatever happens the state returned is what exists.

use super::desired::single_block;
use super::schema::*;
use super::{cluster, database, desired, network, observe, tags, TYPE_NAME};
use platform_aws::lost::settle;
use platform_aws::AwsContext;
use tfplugin_framework::{ApplyOutcome, Diagnostics, Value};

/// Create and update: the network first (everything stands in it), then the node security
/// group, then the cluster and the database concurrently; parts taken out of the
/// configuration are deleted. The state returned is read back from AWS.
pub(super) async fn converge(aws: &AwsContext, prior: &Value, planned: &Value) -> ApplyOutcome {
    let which = if prior.is_null() { "create" } else { "update" };
    let d = match desired::network(aws, planned) {
        Ok(d) => d,
        Err(e) => {
            return ApplyOutcome::failed(
                prior.clone(),
                Diagnostics::from_error("Invalid environment", e.to_string()),
            )
        }
    };
    let timeout = desired::timeout(planned, which);
    let ctx = network::Ctx {
        ec2: aws.ec2(),
        logs: aws.logs(),
        iam: aws.iam(),
        cancel: &aws.cancel,
        timeout,
    };
    let cctx = observe::cluster_ctx(aws, timeout);
    let started = std::time::Instant::now();
    let mut diags = Diagnostics::new();
    // (summary, error) of each part that failed; what the next apply does is added at the end,
    // when it is known whether anything exists.
    let mut failures: Vec<(&str, String)> = Vec::new();
    let state_has_vpc = !prior.is_null() && prior.get("vpc_id").as_str().is_some();
    let net = settle("network", || network::converge(&ctx, &d, state_has_vpc)).await;
    tracing::info!(target: "platform::environment", env = %d.name, elapsed_ms = started.elapsed().as_millis() as u64, ok = net.is_ok(), "network converged");
    let mut ok = net.is_ok();
    match &net {
        Err(e) => failures.push(("Could not set up the environment's network", e.to_string())),
        Ok((vpc_id, subnet_ids)) => {
            let private: Vec<String> = d
                .subnets
                .keys()
                .filter_map(|az| subnet_ids.get(&network::subnet_key("private", az)).cloned())
                .collect();
            let dctx = observe::database_ctx(aws, timeout);
            let dc = desired::cluster(aws, prior, planned);
            let dd = desired::database(aws, planned);
            // The node security group first: the database trusts it, so with it in place
            // the cluster and the database converge concurrently.
            let node_sg = match &dc {
                Some(dc) => settle("node security group", || {
                    cluster::node_security_group(&cctx, dc, vpc_id)
                })
                .await
                .map(Some),
                None => Ok(None),
            };
            let (cres, dres) = match node_sg {
                Err(e) => (Err(e), Ok(())),
                Ok(node_sg) => {
                    let cluster_fut = async {
                        match &dc {
                            Some(dc) => {
                                settle("cluster", || cluster::converge(&cctx, dc, vpc_id, &private))
                                    .await
                            }
                            None => Ok(()),
                        }
                    };
                    let db_fut = async {
                        match (&dd, &node_sg) {
                            (Some(dd), Some(sg)) => {
                                settle("database", || {
                                    database::converge(&dctx, dd, vpc_id, sg, &private)
                                })
                                .await
                            }
                            (None, _) if !prior.get("database_arn").is_null() => {
                                let skip = single_block(prior, "database")
                                    .get("skip_final_snapshot")
                                    .as_bool()
                                    .unwrap_or(false);
                                database::delete(&dctx, &d.name, skip).await
                            }
                            _ => Ok(()),
                        }
                    };
                    tokio::join!(cluster_fut, db_fut)
                }
            };
            // A cluster taken out of the configuration goes after its database.
            let cres = match (cres, &dc) {
                (Ok(()), None)
                    if !prior.get("cluster_arn").is_null()
                        || !prior.get("node_role_arn").is_null() =>
                {
                    cluster::delete(&cctx, &d.name).await
                }
                (r, _) => r,
            };
            tracing::info!(target: "platform::environment", env = %d.name, elapsed_ms = started.elapsed().as_millis() as u64, cluster_ok = cres.is_ok(), database_ok = dres.is_ok(), "cluster and database converged");
            if let Err(e) = cres {
                ok = false;
                failures.push((
                    "Could not set up the environment's EKS cluster",
                    e.to_string(),
                ));
            }
            if let Err(e) = dres {
                ok = false;
                failures.push(("Could not set up the environment's database", e.to_string()));
            }
        }
    }
    let dctx = observe::database_ctx(aws, timeout);
    let sgs = network::OwnedSecurityGroups::default();
    let (observed, observed_cluster, observed_db) = tokio::join!(
        network::observe(ctx.ec2, ctx.logs, ctx.iam, &d.name, &d.owner),
        cluster::observe(&cctx, &d.name, &d.owner, &sgs),
        database::observe(&dctx, &d.name, &d.owner, &sgs)
    );
    let mut state = planned.clone();
    match (observed, observed_cluster, observed_db) {
        (Ok(o), Ok(oc), Ok(od)) => {
            let nothing = o.vpc_id.is_none()
                && o.log_group.is_none()
                && o.role_arn.is_none()
                && oc.is_empty()
                && od.is_empty();
            if !ok && prior.is_null() && nothing {
                for (summary, e) in failures {
                    diags.error(
                        summary,
                        format!(
                            "{e}. Nothing was created; the next apply starts the create again."
                        ),
                    );
                }
                return ApplyOutcome::failed(Value::Null, diags);
            }
            if ok {
                // Success: reality equals the plan; fill only what the plan left unknown.
                let mut seen = planned.clone();
                observe::fill_network(aws, &mut seen, &o);
                observe::fill_cluster(&mut seen, &oc);
                observe::fill_database(&mut seen, &od);
                let computed = AZ_MAPS
                    .iter()
                    .chain(IDS)
                    .chain(CLUSTER_IDS)
                    .chain(DB_IDS)
                    .map(|(k, _)| *k)
                    .chain([
                        "nat_gateway_ids",
                        "nat_public_ips",
                        "cluster_security_group_ids",
                        "node_group_arns",
                    ]);
                for k in computed {
                    if !state.get(k).is_wholly_known() {
                        state.set_attr(k, seen.get(k).clone());
                    }
                }
            } else {
                observe::fill_network(aws, &mut state, &o);
                observe::fill_cluster(&mut state, &oc);
                observe::fill_database(&mut state, &od);
            }
        }
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            diags.error("Could not read the environment back", e.to_string());
        }
    }
    let next = platform_aws::resume::after_failure(TYPE_NAME, &d.name, prior.is_null());
    for (summary, e) in failures {
        diags.error(summary, format!("{e}. {next}"));
    }
    ApplyOutcome {
        state: state.unknown_as_null(),
        diags,
    }
}

/// Destroy in reverse order of dependence; on failure the state keeps what is left, so the
/// next destroy resumes.
pub(super) async fn delete(aws: &AwsContext, prior: &Value) -> ApplyOutcome {
    let name = prior.get("name").as_str().unwrap_or_default().to_string();
    // Deletion protection is checked before any call, so a refused delete (a destroy, or the
    // replacement Terraform plans for an environment tainted by a failed create) deletes
    // nothing at all, not everything up to the database.
    if single_block(prior, "database")
        .get("deletion_protection")
        .as_bool()
        == Some(true)
    {
        return ApplyOutcome::failed(
            prior.clone(),
            Diagnostics::from_error(
                "Cannot delete the environment: deletion protection is on",
                format!(
                    "Environment {name:?} has database.deletion_protection = true, so nothing of it \
                     is deleted (its DB instance {db}-db is protected). To destroy it, set \
                     database.deletion_protection = false and apply first. If this delete is \
                     Terraform replacing an environment whose create failed (planned as \
                     \"tainted, so must be replaced\"), resume instead: run `terraform untaint \
                     <address>` and apply again.",
                    db = name
                ),
            ),
        );
    }
    let owner = tags::owner(TYPE_NAME, &name);
    let ctx = network::Ctx {
        ec2: aws.ec2(),
        logs: aws.logs(),
        iam: aws.iam(),
        cancel: &aws.cancel,
        timeout: desired::timeout(prior, "delete"),
    };
    let cctx = observe::cluster_ctx(aws, desired::timeout(prior, "delete"));
    let dctx = observe::database_ctx(aws, desired::timeout(prior, "delete"));
    let skip = single_block(prior, "database")
        .get("skip_final_snapshot")
        .as_bool()
        .unwrap_or(false);
    // The database (it trusts the node security group), then the cluster (node groups
    // before the cluster), then the network under both.
    let r = match database::delete(&dctx, &name, skip).await {
        Ok(()) => match cluster::delete(&cctx, &name).await {
            Ok(()) => network::delete(&ctx, &name, &owner).await,
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    match r {
        Ok(()) => ApplyOutcome::ok(Value::Null),
        Err(e) => {
            // Report what is left so the next destroy resumes.
            let mut s = prior.clone();
            if let Ok(o) = network::observe(ctx.ec2, ctx.logs, ctx.iam, &name, &owner).await {
                observe::fill_network(aws, &mut s, &o);
            }
            if let Ok(oc) = cluster::observe(&cctx, &name, &owner, &Default::default()).await {
                observe::fill_cluster(&mut s, &oc);
            }
            if let Ok(od) = database::observe(&dctx, &name, &owner, &Default::default()).await {
                observe::fill_database(&mut s, &od);
            }
            ApplyOutcome::failed(
                s,
                Diagnostics::from_error("Cannot delete the environment", e.to_string()),
            )
        }
    }
}
