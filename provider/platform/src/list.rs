//! List resources (Terraform 1.14+ `terraform query`): every object of a composite's type that
//! carries our owner tag (`platform:owner = <type>/<name>`), named by its import id. The
//! framework imports each one for its identity and, when asked, the whole object, so
//! `terraform query -generate-config-out` and `import` blocks adopt exactly what was listed.
//!
//! The `config` block takes one optional argument, `name_prefix`, matched against the name in the
//! owner tag.

use crate::provider::Clients;
use crate::resources::{environment, frontend, microservice, organization, state_backend};
use async_trait::async_trait;
use platform_aws::tags::OWNER_KEY;
use platform_aws::AwsContext;
use std::collections::BTreeMap;
use std::sync::Arc;
use tfplugin_framework::{Attribute, Block, Diagnostics, ListResource, Schema, Value};

pub fn list_resources() -> Vec<Arc<dyn ListResource<Clients>>> {
    [
        state_backend::TYPE_NAME,
        environment::TYPE_NAME,
        organization::account::TYPE_NAME,
        organization::ou::TYPE_NAME,
        microservice::TYPE_NAME,
        frontend::TYPE_NAME,
    ]
    .into_iter()
    .map(|t| Arc::new(Owned(t)) as Arc<dyn ListResource<Clients>>)
    .collect()
}

/// The objects of one composite type, found by their owner tag.
pub struct Owned(&'static str);

fn failed(what: &str, e: impl std::fmt::Display) -> Diagnostics {
    Diagnostics::from_error(format!("Cannot list: {what} failed"), format!("{e}"))
}

/// The name in an owner tag value `<type>/<name>` of `type_name`.
fn owned_name<'a>(type_name: &str, owner: Option<&'a String>) -> Option<&'a str> {
    owner?.strip_prefix(type_name)?.strip_prefix('/')
}

#[async_trait]
impl ListResource<Clients> for Owned {
    fn type_name(&self) -> &'static str {
        self.0
    }

    fn schema(&self) -> Schema {
        Schema::new(
            0,
            Block::new()
                .description("Lists the objects of this type that platformkit manages (those carrying its `platform:owner` tag), by their identity.")
                .attr(Attribute::string("name_prefix").optional().description("Only objects whose name (in the owner tag) starts with this.")),
        )
    }

    async fn list(
        &self,
        c: &Clients,
        config: &Value,
        limit: usize,
    ) -> Result<Vec<String>, Diagnostics> {
        let prefix = config.get("name_prefix").as_str().unwrap_or("").to_string();
        // (import id, name in the owner tag)
        let found = find(self.0, &c.aws).await?;
        Ok(found
            .into_iter()
            .filter(|(_, name)| name.starts_with(&prefix))
            .map(|(id, _)| id)
            .take(limit)
            .collect())
    }
}

/// (import id, name) of every object of `type_name` carrying our owner tag.
async fn find(type_name: &str, aws: &AwsContext) -> Result<Vec<(String, String)>, Diagnostics> {
    let mut out = Vec::new();
    match type_name {
        state_backend::TYPE_NAME => {
            let r = aws
                .s3()
                .list_buckets()
                .send()
                .await
                .map_err(|e| failed("ListBuckets", e))?;
            for b in r.buckets() {
                let Some(bucket) = b.name() else { continue };
                let tags = state_backend::s3::tags(aws.s3(), bucket)
                    .await
                    .map_err(|e| failed("GetBucketTagging", e))?;
                if let Some(name) = owned_name(type_name, tags.get(OWNER_KEY)) {
                    out.push((bucket.to_string(), name.to_string()));
                }
            }
        }
        environment::TYPE_NAME => {
            let mut token: Option<String> = None;
            loop {
                let r = aws
                    .ec2()
                    .describe_vpcs()
                    .filters(
                        aws_sdk_ec2::types::Filter::builder()
                            .name("tag-key")
                            .values(OWNER_KEY)
                            .build(),
                    )
                    .set_next_token(token.clone())
                    .send()
                    .await
                    .map_err(|e| failed("DescribeVpcs", e))?;
                for v in r.vpcs() {
                    let tags: BTreeMap<String, String> = v
                        .tags()
                        .iter()
                        .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
                        .collect();
                    if let Some(name) = owned_name(type_name, tags.get(OWNER_KEY)) {
                        out.push((name.to_string(), name.to_string()));
                    }
                }
                token = r.next_token().map(str::to_string);
                if token.is_none() {
                    break;
                }
            }
        }
        microservice::TYPE_NAME => {
            let mut token: Option<String> = None;
            loop {
                let r = aws
                    .ecr()
                    .describe_repositories()
                    .set_next_token(token.clone())
                    .send()
                    .await
                    .map_err(|e| failed("DescribeRepositories", e))?;
                for repo in r.repositories() {
                    let Some(arn) = repo.repository_arn() else {
                        continue;
                    };
                    let t = aws
                        .ecr()
                        .list_tags_for_resource()
                        .resource_arn(arn)
                        .send()
                        .await
                        .map_err(|e| failed("ListTagsForResource", e))?;
                    let tags: BTreeMap<String, String> = t
                        .tags()
                        .iter()
                        .map(|t| (t.key().to_string(), t.value().to_string()))
                        .collect();
                    if let Some(name) = owned_name(type_name, tags.get(OWNER_KEY)) {
                        out.push((name.to_string(), name.to_string()));
                    }
                }
                token = r.next_token().map(str::to_string);
                if token.is_none() {
                    break;
                }
            }
        }
        frontend::TYPE_NAME => {
            // A frontend's distribution carries its owner in the comment (and the tag).
            let mut marker: Option<String> = None;
            loop {
                let r = aws
                    .cloudfront()
                    .list_distributions()
                    .set_marker(marker.clone())
                    .send()
                    .await
                    .map_err(|e| failed("ListDistributions", e))?;
                let Some(list) = r.distribution_list() else {
                    break;
                };
                for d in list.items() {
                    let comment = d.comment().to_string();
                    if let Some(name) = owned_name(type_name, Some(&comment)) {
                        out.push((d.id().to_string(), name.to_string()));
                    }
                }
                match list.next_marker() {
                    Some(m) if list.is_truncated() && !m.is_empty() => marker = Some(m.to_string()),
                    _ => break,
                }
            }
        }
        organization::ou::TYPE_NAME => {
            let c = aws.organizations();
            let (root, _) = organization::api::root(c)
                .await
                .map_err(|e| failed("ListRoots", e))?;
            let mut queue = vec![root];
            while let Some(parent) = queue.pop() {
                let children = organization::api::child_ous(c, &parent)
                    .await
                    .map_err(|e| failed("ListChildren", e))?;
                for id in children {
                    let tags = organization::api::tags(c, &id)
                        .await
                        .map_err(|e| failed("ListTagsForResource", e))?;
                    if let Some(name) = owned_name(type_name, tags.get(OWNER_KEY)) {
                        out.push((id.clone(), name.to_string()));
                    }
                    queue.push(id);
                }
            }
        }
        organization::account::TYPE_NAME => {
            let c = aws.organizations();
            let accounts = organization::api::all_accounts(c)
                .await
                .map_err(|e| failed("ListAccounts", e))?;
            for a in accounts {
                let Some(id) = a.id() else { continue };
                let tags = organization::api::tags(c, id)
                    .await
                    .map_err(|e| failed("ListTagsForResource", e))?;
                if let Some(name) = owned_name(type_name, tags.get(OWNER_KEY)) {
                    out.push((id.to_string(), name.to_string()));
                }
            }
        }
        _ => {}
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_tags_of_other_types_are_not_ours() {
        let t = "platform_environment";
        assert_eq!(
            owned_name(t, Some(&"platform_environment/prod".to_string())),
            Some("prod")
        );
        assert_eq!(
            owned_name(t, Some(&"platform_environment_x/prod".to_string())),
            None
        );
        assert_eq!(owned_name(t, None), None);
    }
}
