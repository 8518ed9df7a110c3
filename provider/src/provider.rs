//! The `platform` provider: its configuration schema and the resources and data sources
//! it offers. Adding a composite means adding it to `resources()`.

use crate::aws::config::ENDPOINT_SERVICES;
use crate::framework::{Attribute, Block, DataSource, NestedBlock, Resource, Schema};
use std::sync::Arc;

pub const PROVIDER_ADDRESS: &str = "registry.terraform.io/platformkit/platform";

pub fn provider_schema() -> Schema {
    let mut endpoints = Block::new()
        .description("Endpoint overrides, for local emulators and private endpoints.")
        .attr(
            Attribute::string("url")
                .optional()
                .description("One base URL used for every service (e.g. a local emulator)."),
        );
    for svc in ENDPOINT_SERVICES {
        endpoints = endpoints.attr(
            Attribute::string(svc)
                .optional()
                .description(&format!("Endpoint URL for {svc}; overrides `url`.")),
        );
    }
    Schema::new(
        0,
        Block::new()
            .description("platformkit: opinionated, secure-by-default AWS platform building blocks.")
            .attr(Attribute::string("region").optional().description(
                "AWS region. Defaults to the AWS_REGION or AWS_DEFAULT_REGION environment variable.",
            ))
            .attr(
                Attribute::string("profile")
                    .optional()
                    .description("Named profile from the shared AWS config and credentials files."),
            )
            .attr(Attribute::string_list("allowed_account_ids").optional().description(
                "Refuse to run unless the credentials belong to one of these accounts (checked with STS GetCallerIdentity before any change).",
            ))
            .attr(Attribute::number("max_retries").optional().description(
                "Retries for throttled and 5xx AWS calls, with exponential backoff. Default 5.",
            ))
            .block(NestedBlock::at_most_one(
                "assume_role",
                Block::new()
                    .description("Assume this role for every AWS call (deploying into a member account).")
                    .attr(Attribute::string("role_arn").required().description("ARN of the role to assume."))
                    .attr(Attribute::string("session_name").optional().description("Session name; default `platformkit`."))
                    .attr(Attribute::string("external_id").optional().sensitive().description("External id the role's trust policy requires.")),
            ))
            .block(NestedBlock::at_most_one(
                "default_tags",
                Block::new()
                    .description("Tags added to every AWS object the provider creates.")
                    .attr(Attribute::string_map("tags").optional().description("The tags.")),
            ))
            .block(NestedBlock::at_most_one("endpoints", endpoints)),
    )
}

pub fn resources() -> Vec<Arc<dyn Resource>> {
    vec![
        Arc::new(crate::resources::state_backend::StateBackend),
        Arc::new(crate::resources::organization::ou::OrganizationalUnit),
        Arc::new(crate::resources::organization::account::OrgAccount::default()),
        Arc::new(crate::resources::environment::Environment),
        Arc::new(crate::resources::microservice::Microservice),
        Arc::new(crate::resources::frontend::Frontend),
    ]
}

pub fn data_sources() -> Vec<Arc<dyn DataSource>> {
    vec![Arc::new(
        crate::resources::organization::guardrail_data::GuardrailPolicy,
    )]
}
