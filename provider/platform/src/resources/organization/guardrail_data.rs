//! `platform_guardrail_policy`: renders the same SCP documents `platform_organizational_unit`
//! attaches, for review (plan output, pull requests) or for use with other tooling. Pure:
//! no AWS call.

use super::guardrails::{self, Guardrails};
use async_trait::async_trait;
use platform_aws::AwsContext;
use tfplugin_framework::{Attribute, AttributePath, Block, DataSource, Diagnostics, Schema, Value};

pub const TYPE_NAME: &str = "platform_guardrail_policy";

pub struct GuardrailPolicy;

/// The guardrail attributes shared by this data source and the OU's `guardrails` block.
pub fn guardrail_attributes() -> Vec<Attribute> {
    let mut v: Vec<Attribute> = guardrails::SWITCHES
        .iter()
        .map(|(n, d)| Attribute::bool(n).default(true).description(d))
        .collect();
    v.push(Attribute::string_list("allowed_regions").optional().description(
        "Deny regional actions outside these regions (global services and exempt principals excepted). Unset: no region restriction. Each must be a region of the provider's maintained list (a misspelt region would deny every real one; a near miss gets a suggestion).",
    ));
    v.push(Attribute::string_list("exempt_principal_arns").optional().description(
        "IAM principal ARNs (wildcards allowed) the flow-log, CloudTrail and region statements do not apply to, e.g. a break-glass role.",
    ));
    v
}

#[async_trait]
impl DataSource<AwsContext> for GuardrailPolicy {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        let mut b = Block::new().description(
            "Renders the guardrail service control policies (deny leaving the organization, protect flow logs and CloudTrail, deny the root user, restrict regions) as JSON, validated for AWS's limits.",
        );
        b = b.attr(
            Attribute::string("id")
                .computed()
                .description("A fixed id (`guardrails`)."),
        );
        for a in guardrail_attributes() {
            b = b.attr(a);
        }
        b = b
            .attr(Attribute::string_map("extra_policies").optional().description(
                "Additional SCP documents (name → JSON) counted against the per-target limit and validated the same way as an OU's `extra_policies` (JSON, size, statement structure).",
            ))
            .attr(Attribute::string_map("documents").computed().description(
                "The rendered documents: `baseline` (deny statements) and `region-restriction` when regions are restricted, plus the extra policies.",
            ))
            .attr(Attribute::number("policy_count").computed().description(
                "SCPs a target would hold directly, counting the AWS-managed FullAWSAccess (at most 5).",
            ));
        Schema::new(0, b)
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        let mut d = Diagnostics::new();
        let root = AttributePath(Vec::new());
        guardrails::validate_guardrails(&root, config, &mut d);
        guardrails::validate_extra_policies(
            &AttributePath::root("extra_policies"),
            config.get("extra_policies"),
            &mut d,
        );
        if !d.has_errors() {
            guardrails::validate_count(
                &AttributePath::root("extra_policies"),
                &Guardrails::from_value(config),
                config.get("extra_policies"),
                &mut d,
            );
        }
        d
    }

    async fn read(&self, _aws: &AwsContext, config: &Value) -> Result<Value, Diagnostics> {
        let g = Guardrails::from_value(config);
        let mut docs = g.render();
        for (k, v) in config.get("extra_policies").to_string_map() {
            docs.insert(k, v);
        }
        // The framework filled the switches' defaults (on) from the schema.
        let mut out = config.clone();
        out.set_attr("id", Value::from("guardrails"));
        out.set_attr(
            "policy_count",
            Value::int((guardrails::FULL_AWS_ACCESS_SLOTS + docs.len()) as i64),
        );
        out.set_attr("documents", Value::string_map(docs));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_root_path_yields_plain_attribute_names() {
        let cfg = Value::object([("allowed_regions", Value::List(vec![Value::from("narnia")]))]);
        let d = GuardrailPolicy.validate(&cfg);
        assert_eq!(
            d.0[0].path.as_ref().map(|p| p.to_string()).as_deref(),
            Some("allowed_regions[0]")
        );
    }
}
