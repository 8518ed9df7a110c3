//! What a composite tells the user after a part-way failure, so the text says exactly what
//! the next apply does.
//!
//! Terraform core marks an object tainted when the provider's answer to a *create* carries
//! an error together with a state (it does so on 1.0 and on 1.15 alike; an *update* that
//! fails is never tainted). A tainted object is planned as a replacement: Terraform plans the
//! new object as a create (the provider cannot see the taint) and destroys the old one
//! first. So after a failed create the plain next apply deletes what was made and makes it
//! all again; `terraform untaint` turns that into an update, which resumes the create
//! (creation adopts what carries the owner tag, so it never duplicates).

/// The sentence after the error of a part-way failed create or update of `type_name`
/// named `name`.
pub fn after_failure(type_name: &str, name: &str, create: bool) -> String {
    if create {
        format!(
            "Everything created so far is kept in state, but Terraform marks {type_name} \
             \"{name}\" tainted because its create failed: a plain next apply would replace it, \
             deleting everything created so far and creating it again. To resume instead, run \
             `terraform untaint <address>` (the address of this {type_name}, e.g. \
             {type_name}.<label>) and apply again: the create continues from what exists."
        )
    } else {
        "Everything created so far is kept in state; the next apply resumes.".to_string()
    }
}

/// The warning for a create planned while objects of `type_name` named `name` already
/// exist in AWS (`found` says which): after a crash they are adopted, after a failed create
/// that Terraform tainted they are replaced.
pub fn existing_objects(type_name: &str, name: &str, found: &str) -> String {
    format!(
        "{found} of {type_name} \"{name}\" already exists in AWS. If Terraform lost track of it \
         (a crash or a killed apply), this apply adopts it. If this plan replaces a tainted \
         {type_name} (after a failed create), the replacement deletes everything that exists \
         and creates it again; to resume the create instead, run `terraform untaint <address>` \
         (the address of this {type_name}) and plan again."
    )
}

// The plan-time look-ups behind [`existing_objects`]: whether a composite's first object exists
// and carries the composite's owner tag. A failed look-up counts as "no": it only skips a warning.

/// Whether a tag list (as `(key, value)` pairs) carries `owner`'s tag.
fn carries_owner<'a>(mut tags: impl Iterator<Item = (&'a str, &'a str)>, owner: &str) -> bool {
    tags.any(|(k, v)| k == crate::tags::OWNER_KEY && v == owner)
}

/// Whether `bucket` exists and carries `owner`'s tag, with one GetBucketTagging (which
/// answers NoSuchBucket for a missing bucket): for composites whose first object is a bucket
/// named in their configuration.
pub async fn bucket_owned_by(s3: &aws_sdk_s3::Client, bucket: &str, owner: &str) -> bool {
    match s3.get_bucket_tagging().bucket(bucket).send().await {
        Ok(t) => carries_owner(t.tag_set().iter().map(|t| (t.key(), t.value())), owner),
        Err(_) => false,
    }
}

/// Whether the ECR repository `name` exists and carries `owner`'s tag: one
/// DescribeRepositories, and only when it exists, one ListTagsForResource.
pub async fn repository_owned_by(ecr: &aws_sdk_ecr::Client, name: &str, owner: &str) -> bool {
    let Ok(r) = ecr
        .describe_repositories()
        .repository_names(name)
        .send()
        .await
    else {
        return false;
    };
    let Some(arn) = r.repositories().first().and_then(|r| r.repository_arn()) else {
        return false;
    };
    match ecr.list_tags_for_resource().resource_arn(arn).send().await {
        Ok(t) => carries_owner(t.tags().iter().map(|t| (t.key(), t.value())), owner),
        Err(_) => false,
    }
}

/// Whether the IAM role `name` exists and carries `owner`'s tag: one GetRole (its answer
/// carries the tags).
pub async fn role_owned_by(iam: &aws_sdk_iam::Client, name: &str, owner: &str) -> bool {
    match iam.get_role().role_name(name).send().await {
        Ok(r) => r
            .role()
            .is_some_and(|r| carries_owner(r.tags().iter().map(|t| (t.key(), t.value())), owner)),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_names_untaint_and_update_does_not() {
        let c = after_failure("platform_environment", "dev", true);
        assert!(
            c.contains("terraform untaint") && c.contains("tainted"),
            "{c}"
        );
        let u = after_failure("platform_environment", "dev", false);
        assert!(
            !u.contains("untaint") && u.contains("next apply resumes"),
            "{u}"
        );
        assert!(existing_objects("platform_environment", "dev", "VPC vpc-1").contains("untaint"));
    }

    #[test]
    fn only_the_owner_tag_with_that_owner_counts() {
        const OWNER: &str = "platform_microservice/api";
        let carries = |pairs: &[(&str, &str)]| carries_owner(pairs.iter().copied(), OWNER);
        assert!(carries(&[("team", "x"), ("platform:owner", OWNER)]));
        assert!(!carries(&[("platform:owner", "platform_microservice/web")]));
        assert!(!carries(&[("owner", OWNER)]));
        assert!(!carries(&[]));
    }
}
