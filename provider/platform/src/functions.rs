//! Provider-defined functions (Terraform 1.8+): the pure computations the composites make,
//! callable from HCL so hand-written copies of them are not needed.
//!
//! - `provider::platform::subnet_cidrs(vpc_cidr, azs, newbits)`: the subnet layout
//!   `platform_environment` plans (`environment::cidr::plan`), as `{ private = {az = cidr},
//!   public = {az = cidr} }`.
//! - `provider::platform::guardrail_policy(settings)`: the SCP documents
//!   `platform_organizational_unit` attaches and `data.platform_guardrail_policy` renders
//!   (`organization::guardrails`), as a map of name to JSON.

use crate::resources::environment::cidr;
use crate::resources::organization::guardrail_data::guardrail_attributes;
use crate::resources::organization::guardrails::{self, Guardrails};
use std::sync::Arc;
use tfplugin_framework::{
    AttributePath, Diagnostics, Function, FunctionError, Parameter, Type, Value,
};

pub fn functions() -> Vec<Arc<dyn Function>> {
    vec![Arc::new(SubnetCidrs), Arc::new(GuardrailPolicy)]
}

pub struct SubnetCidrs;

impl Function for SubnetCidrs {
    fn name(&self) -> &'static str {
        "subnet_cidrs"
    }
    fn summary(&self) -> &'static str {
        "The private and public subnet CIDRs platform_environment plans for a VPC and its AZs."
    }
    fn description(&self) -> &'static str {
        "Cuts `vpc_cidr` into `2^newbits` blocks. Each availability zone owns a fixed slot from its zone letter (`a` = 0 … `h` = 7), never from its position in `azs`, so adding or removing a zone never moves another zone's subnets: the private subnet is block `slot`, the public one block `8 + slot`. Returns `{ private = { <az> = <cidr> }, public = { <az> = <cidr> } }`, exactly the `private_subnet_cidrs` and `public_subnet_cidrs` a `platform_environment` with the same `vpc_cidr`, `availability_zones` and `subnet_newbits` gets (its default `subnet_newbits` is 4)."
    }
    fn parameters(&self) -> Vec<Parameter> {
        vec![
            Parameter {
                name: "vpc_cidr",
                ty: Type::String,
                description: "The VPC's IPv4 CIDR block, /16 to /28 (e.g. `10.0.0.0/16`).",
            },
            Parameter {
                name: "azs",
                ty: Type::list(Type::String),
                description: "Availability zone names (e.g. `[\"eu-central-1a\", \"eu-central-1b\"]`); letters `a` to `h`.",
            },
            Parameter {
                name: "newbits",
                ty: Type::Number,
                description: "Bits added to the VPC prefix for every subnet (at least 4: 16 blocks for 8 zone slots).",
            },
        ]
    }
    fn return_type(&self) -> Type {
        Type::object([
            ("private", Type::map(Type::String)),
            ("public", Type::map(Type::String)),
        ])
    }
    fn call(&self, args: &[Value]) -> Result<Value, FunctionError> {
        let vpc = args[0].as_str().unwrap_or_default();
        let vpc = cidr::vpc_cidr(vpc).map_err(|e| FunctionError::at(0, e.to_string()))?;
        let mut azs = Vec::new();
        for az in args[1].elements() {
            match az.as_str() {
                Some(s) => azs.push(s.to_string()),
                None => return Err(FunctionError::at(1, "availability zones must not be null")),
            }
        }
        let newbits = match args[2].as_i64() {
            Some(n @ 0..=32) => n as u8,
            _ => {
                return Err(FunctionError::at(
                    2,
                    "newbits must be a whole number from 0 to 32",
                ))
            }
        };
        let plan = cidr::plan(&vpc, newbits, &azs).map_err(|e| {
            let arg = if matches!(e, cidr::CidrError::ZoneLetter(_)) {
                1
            } else {
                2
            };
            FunctionError::at(arg, e.to_string())
        })?;
        Ok(Value::object([
            (
                "private",
                Value::string_map(
                    plan.iter()
                        .map(|(az, s)| (az.clone(), s.private.to_string())),
                ),
            ),
            (
                "public",
                Value::string_map(
                    plan.iter()
                        .map(|(az, s)| (az.clone(), s.public.to_string())),
                ),
            ),
        ]))
    }
}

pub struct GuardrailPolicy;

impl Function for GuardrailPolicy {
    fn name(&self) -> &'static str {
        "guardrail_policy"
    }
    fn summary(&self) -> &'static str {
        "The guardrail service control policies platform_organizational_unit attaches, as JSON."
    }
    fn description(&self) -> &'static str {
        "Takes an object with any of the attributes of an OU's `guardrails` block — `deny_leaving_organization`, `protect_flow_logs`, `protect_cloudtrail`, `deny_root_user` (bools, default `true`), `allowed_regions` and `exempt_principal_arns` (lists of strings) — validated the same way, and returns the rendered documents by name: `baseline` (the deny statements) and `region-restriction` when regions are restricted. Use `{}` for the defaults. The same code renders `data.platform_guardrail_policy` and the policies the OU attaches."
    }
    fn parameters(&self) -> Vec<Parameter> {
        vec![Parameter {
            name: "settings",
            ty: Type::Dynamic,
            description: "An object of guardrail settings (see the function description); `{}` for the defaults.",
        }]
    }
    fn return_type(&self) -> Type {
        Type::map(Type::String)
    }
    fn call(&self, args: &[Value]) -> Result<Value, FunctionError> {
        let settings = &args[0];
        let Some(entries) = settings.entries() else {
            return Err(FunctionError::at(
                0,
                "settings must be an object such as { allowed_regions = [\"eu-central-1\"] }",
            ));
        };
        let known: Vec<String> = guardrail_attributes()
            .iter()
            .map(|a| a.name.clone())
            .collect();
        for (k, v) in entries {
            if !known.contains(k) {
                return Err(FunctionError::at(
                    0,
                    format!(
                        "unknown guardrail setting {k:?}; expected one of {}",
                        known.join(", ")
                    ),
                ));
            }
            let switch = guardrails::SWITCHES.iter().any(|(n, _)| n == k);
            let ok = if switch {
                v.is_null() || v.as_bool().is_some()
            } else {
                v.is_null()
                    || (matches!(v, Value::List(_) | Value::Set(_) | Value::Tuple(_))
                        && v.elements().iter().all(|e| e.as_str().is_some()))
            };
            if !ok {
                let want = if switch {
                    "a bool"
                } else {
                    "a list of strings"
                };
                return Err(FunctionError::at(0, format!("{k} must be {want}")));
            }
        }
        let mut d = Diagnostics::new();
        guardrails::validate_guardrails(&AttributePath(Vec::new()), settings, &mut d);
        if d.has_errors() {
            let text =
                d.0.iter()
                    .map(|x| match &x.path {
                        Some(p) if !p.0.is_empty() => {
                            format!("{}: {}: {}", p, x.summary, x.detail)
                        }
                        _ => format!("{}: {}", x.summary, x.detail),
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
            return Err(FunctionError::at(0, text));
        }
        Ok(Value::string_map(Guardrails::from_value(settings).render()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnet_cidrs_is_the_environment_layout() {
        let r = SubnetCidrs
            .call(&[
                Value::from("10.0.0.0/16"),
                Value::List(vec![Value::from("us-east-1b"), Value::from("us-east-1a")]),
                Value::int(4),
            ])
            .expect("call");
        assert_eq!(
            r.get("private").get("us-east-1a").as_str(),
            Some("10.0.0.0/20")
        );
        assert_eq!(
            r.get("private").get("us-east-1b").as_str(),
            Some("10.0.16.0/20")
        );
        assert_eq!(
            r.get("public").get("us-east-1a").as_str(),
            Some("10.0.128.0/20")
        );
    }

    #[test]
    fn subnet_cidrs_points_at_the_bad_argument() {
        let e = SubnetCidrs
            .call(&[
                Value::from("10.0.0.1/16"),
                Value::List(vec![]),
                Value::int(4),
            ])
            .unwrap_err();
        assert_eq!(e.argument, Some(0));
        let e = SubnetCidrs
            .call(&[
                Value::from("10.0.0.0/16"),
                Value::List(vec![Value::from("us-east-1z")]),
                Value::int(4),
            ])
            .unwrap_err();
        assert_eq!(e.argument, Some(1));
        let e = SubnetCidrs
            .call(&[
                Value::from("10.0.0.0/24"),
                Value::List(vec![]),
                Value::int(8),
            ])
            .unwrap_err();
        assert_eq!(e.argument, Some(2));
    }

    #[test]
    fn guardrail_policy_renders_what_the_ou_renders() {
        let settings = Value::object([(
            "allowed_regions",
            Value::Tuple(vec![Value::from("eu-central-1")]),
        )]);
        let docs = GuardrailPolicy
            .call(std::slice::from_ref(&settings))
            .expect("call");
        let want = Guardrails::from_value(&settings).render();
        assert_eq!(docs.to_string_map(), want);
        assert!(want.contains_key(guardrails::REGIONS_KEY));
    }

    #[test]
    fn guardrail_policy_refuses_unknown_settings_and_bad_regions() {
        let e = GuardrailPolicy
            .call(&[Value::object([("deny_everything", Value::Bool(true))])])
            .unwrap_err();
        assert!(e.text.contains("deny_everything"), "{}", e.text);
        let e = GuardrailPolicy
            .call(&[Value::object([(
                "allowed_regions",
                Value::Tuple(vec![Value::from("narnia")]),
            )])])
            .unwrap_err();
        assert!(e.text.contains("allowed_regions[0]"), "{}", e.text);
    }
}
