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

/// Whether `bucket` exists and carries `owner`'s tag, with one GetBucketTagging (which
/// answers NoSuchBucket for a missing bucket): the plan-time look-up of composites whose first
/// object is a bucket named in their configuration. A failed look-up counts as "no".
pub async fn bucket_owned_by(s3: &aws_sdk_s3::Client, bucket: &str, owner: &str) -> bool {
    match s3.get_bucket_tagging().bucket(bucket).send().await {
        Ok(t) => t
            .tag_set()
            .iter()
            .any(|t| t.key() == crate::tags::OWNER_KEY && t.value() == owner),
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
}
