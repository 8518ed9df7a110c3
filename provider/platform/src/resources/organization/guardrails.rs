//! Guardrail SCPs: rendering the documents from readable switches, and the checks AWS
//! would only make at CreatePolicy/AttachPolicy time (JSON, size, policies per target),
//! done here before any call — moto accepts invalid and oversized policies, and a
//! rejected policy half-way through an apply is much worse than a plan-time diagnostic.
//! Everything in this module is pure.

use platform_aws::regions::check_region;
use serde_json::{json, Value as Json};
use std::collections::BTreeMap;
use tfplugin_framework::{AttributePath, Diagnostics, Value};

/// AWS's limit on an SCP document, in characters (white space counts).
pub const MAX_POLICY_CHARS: usize = 5120;
/// AWS's limit on SCPs attached directly to one root, OU or account.
pub const MAX_POLICIES_PER_TARGET: usize = 5;
/// The AWS-managed `FullAWSAccess` SCP is attached to every new OU and account and takes
/// one of the five slots unless someone detaches it, so it is always counted.
pub const FULL_AWS_ACCESS_SLOTS: usize = 1;

/// Key of the policy holding the deny statements.
pub const BASELINE_KEY: &str = "baseline";
/// Key of the region-restriction policy (its own policy, so changing regions updates one
/// small document and the baseline keeps its id and content).
pub const REGIONS_KEY: &str = "region-restriction";

/// Services that are global (or must work from us-east-1 whatever the home region): the
/// region restriction exempts them with `NotAction`, as AWS's own example SCP does.
pub const GLOBAL_SERVICE_ACTIONS: &[&str] = &[
    "a4b:*",
    "acm:*",
    "aws-marketplace-management:*",
    "aws-marketplace:*",
    "aws-portal:*",
    "budgets:*",
    "ce:*",
    "chime:*",
    "cloudfront:*",
    "config:*",
    "cur:*",
    "directconnect:*",
    "ec2:DescribeRegions",
    "ec2:DescribeTransitGateways",
    "ec2:DescribeVpnGateways",
    "fms:*",
    "globalaccelerator:*",
    "health:*",
    "iam:*",
    "importexport:*",
    "kms:*",
    "networkmanager:*",
    "organizations:*",
    "pricing:*",
    "route53:*",
    "route53domains:*",
    "s3:GetAccountPublic*",
    "s3:ListAllMyBuckets",
    "s3:PutAccountPublic*",
    "shield:*",
    "sts:*",
    "support:*",
    "trustedadvisor:*",
    "waf-regional:*",
    "waf:*",
    "wafv2:*",
];

/// The guardrail switches. Every deny defaults to on: forgetting a guardrail must take an
/// explicit `false`.
#[derive(Debug, Clone, PartialEq)]
pub struct Guardrails {
    pub deny_leaving_organization: bool,
    pub protect_flow_logs: bool,
    pub protect_cloudtrail: bool,
    pub deny_root_user: bool,
    /// Empty: no region restriction.
    pub allowed_regions: Vec<String>,
    /// Principals (wildcards allowed) the flow-log, CloudTrail and region statements do
    /// not apply to: a break-glass or pipeline role.
    pub exempt_principal_arns: Vec<String>,
}

impl Default for Guardrails {
    fn default() -> Guardrails {
        Guardrails {
            deny_leaving_organization: true,
            protect_flow_logs: true,
            protect_cloudtrail: true,
            deny_root_user: true,
            allowed_regions: Vec::new(),
            exempt_principal_arns: Vec::new(),
        }
    }
}

/// The boolean switches with their schema names, for schemas and for reading values.
pub const SWITCHES: &[(&str, &str)] = &[
    (
        "deny_leaving_organization",
        "Deny organizations:LeaveOrganization. Default true.",
    ),
    (
        "protect_flow_logs",
        "Deny deleting VPC flow logs and CloudWatch log groups/streams. Default true.",
    ),
    (
        "protect_cloudtrail",
        "Deny stopping, deleting or changing CloudTrail trails. Default true.",
    ),
    (
        "deny_root_user",
        "Deny every action by an account's root user. Default true.",
    ),
];

fn strings(v: &Value) -> Vec<String> {
    v.elements()
        .iter()
        .filter_map(|e| e.as_str().map(str::to_string))
        .collect()
}

impl Guardrails {
    /// From an object with the guardrail attributes (a `guardrails` block or the data
    /// source's configuration). Null switches take their default (on).
    pub fn from_value(v: &Value) -> Guardrails {
        let flag = |n: &str| v.get(n).as_bool().unwrap_or(true);
        Guardrails {
            deny_leaving_organization: flag("deny_leaving_organization"),
            protect_flow_logs: flag("protect_flow_logs"),
            protect_cloudtrail: flag("protect_cloudtrail"),
            deny_root_user: flag("deny_root_user"),
            allowed_regions: strings(v.get("allowed_regions")),
            exempt_principal_arns: strings(v.get("exempt_principal_arns")),
        }
    }

    fn exemption(&self) -> Option<Json> {
        if self.exempt_principal_arns.is_empty() {
            None
        } else {
            Some(json!({ "ArnNotLike": { "aws:PrincipalARN": self.exempt_principal_arns } }))
        }
    }

    /// The rendered documents, keyed by `BASELINE_KEY` / `REGIONS_KEY`; a policy with no
    /// statement is not rendered at all (it would only use up a slot).
    pub fn render(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let mut statements: Vec<Json> = Vec::new();
        let exempt = self.exemption();
        let with_exemption = |mut s: Json| {
            if let (Some(c), Some(obj)) = (&exempt, s.as_object_mut()) {
                obj.insert("Condition".into(), c.clone());
            }
            s
        };
        if self.deny_leaving_organization {
            statements.push(json!({
                "Sid": "DenyLeavingOrganization",
                "Effect": "Deny",
                "Action": ["organizations:LeaveOrganization"],
                "Resource": "*"
            }));
        }
        if self.protect_flow_logs {
            statements.push(with_exemption(json!({
                "Sid": "ProtectFlowLogs",
                "Effect": "Deny",
                "Action": ["ec2:DeleteFlowLogs", "logs:DeleteLogGroup", "logs:DeleteLogStream"],
                "Resource": "*"
            })));
        }
        if self.protect_cloudtrail {
            statements.push(with_exemption(json!({
                "Sid": "ProtectCloudTrail",
                "Effect": "Deny",
                "Action": [
                    "cloudtrail:DeleteTrail",
                    "cloudtrail:StopLogging",
                    "cloudtrail:UpdateTrail",
                    "cloudtrail:PutEventSelectors"
                ],
                "Resource": "*"
            })));
        }
        if self.deny_root_user {
            statements.push(json!({
                "Sid": "DenyRootUser",
                "Effect": "Deny",
                "Action": "*",
                "Resource": "*",
                "Condition": { "StringLike": { "aws:PrincipalArn": ["arn:*:iam::*:root"] } }
            }));
        }
        if !statements.is_empty() {
            out.insert(
                BASELINE_KEY.to_string(),
                json!({ "Version": "2012-10-17", "Statement": statements }).to_string(),
            );
        }
        if !self.allowed_regions.is_empty() {
            let mut cond = json!({
                "StringNotEquals": { "aws:RequestedRegion": self.allowed_regions }
            });
            if let (Some(Json::Object(e)), Some(obj)) = (self.exemption(), cond.as_object_mut()) {
                obj.extend(e);
            }
            let doc = json!({
                "Version": "2012-10-17",
                "Statement": [{
                    "Sid": "RestrictRegions",
                    "Effect": "Deny",
                    "NotAction": GLOBAL_SERVICE_ACTIONS,
                    "Resource": "*",
                    "Condition": cond
                }]
            });
            out.insert(REGIONS_KEY.to_string(), doc.to_string());
        }
        out
    }
}

impl Guardrails {
    /// Recovers the switches from documents this module rendered (used by import). Only
    /// a reconstruction that renders back to exactly these documents is returned, so an
    /// edited or foreign policy is never misread.
    pub fn from_documents(docs: &BTreeMap<String, String>) -> Option<Guardrails> {
        let parse = |k: &str| {
            docs.get(k)
                .and_then(|d| serde_json::from_str::<Json>(d).ok())
        };
        let base = parse(BASELINE_KEY);
        let regions = parse(REGIONS_KEY);
        let sids: Vec<String> = base
            .as_ref()
            .and_then(|b| b["Statement"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|s| s["Sid"].as_str().map(str::to_string))
            .collect();
        let has = |sid: &str| sids.iter().any(|s| s == sid);
        let list = |v: &Json| -> Vec<String> {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut exempt = Vec::new();
        let mut allowed = Vec::new();
        if let Some(r) = &regions {
            let cond = &r["Statement"][0]["Condition"];
            allowed = list(&cond["StringNotEquals"]["aws:RequestedRegion"]);
            exempt = list(&cond["ArnNotLike"]["aws:PrincipalARN"]);
        } else if let Some(b) = &base {
            for st in b["Statement"].as_array().cloned().unwrap_or_default() {
                let e = list(&st["Condition"]["ArnNotLike"]["aws:PrincipalARN"]);
                if !e.is_empty() {
                    exempt = e;
                    break;
                }
            }
        }
        let g = Guardrails {
            deny_leaving_organization: has("DenyLeavingOrganization"),
            protect_flow_logs: has("ProtectFlowLogs"),
            protect_cloudtrail: has("ProtectCloudTrail"),
            deny_root_user: has("DenyRootUser"),
            allowed_regions: allowed,
            exempt_principal_arns: exempt,
        };
        let rendered = g.render();
        let guardrail_docs: BTreeMap<&String, &String> = docs
            .iter()
            .filter(|(k, _)| *k == BASELINE_KEY || *k == REGIONS_KEY)
            .collect();
        let same = rendered.len() == guardrail_docs.len()
            && rendered.iter().all(|(k, d)| {
                guardrail_docs
                    .get(k)
                    .is_some_and(|other| same_document(d, other))
            });
        same.then_some(g)
    }

    /// The `guardrails` block value for these switches: an empty list when everything is
    /// at its default (the block can then be left out of the configuration).
    pub fn to_block(&self) -> Value {
        if *self == Guardrails::default() {
            return Value::List(Vec::new());
        }
        let opt_list = |v: &Vec<String>| {
            if v.is_empty() {
                Value::Null
            } else {
                Value::List(v.iter().map(|s| Value::from(s.clone())).collect())
            }
        };
        Value::List(vec![Value::object([
            (
                "deny_leaving_organization",
                Value::Bool(self.deny_leaving_organization),
            ),
            ("protect_flow_logs", Value::Bool(self.protect_flow_logs)),
            ("protect_cloudtrail", Value::Bool(self.protect_cloudtrail)),
            ("deny_root_user", Value::Bool(self.deny_root_user)),
            ("allowed_regions", opt_list(&self.allowed_regions)),
            (
                "exempt_principal_arns",
                opt_list(&self.exempt_principal_arns),
            ),
        ])])
    }
}

/// SCP names: 1-128 characters; we keep to a portable subset so the name can also be
/// a suffix of `<ou name>-<key>`.
pub fn policy_key(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 64 {
        return Err(format!(
            "must be 1 to 64 characters long (is {})",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(format!(
            "may contain only letters, digits, hyphens, underscores and dots (found {c:?})"
        ));
    }
    if name == BASELINE_KEY || name == REGIONS_KEY {
        return Err("is reserved for the rendered guardrail policies".into());
    }
    Ok(())
}

/// A policy document as AWS would accept it: a JSON object with `Statement`, and at
/// most `MAX_POLICY_CHARS` characters.
pub fn check_document(doc: &str) -> Result<(), String> {
    let n = doc.chars().count();
    if n > MAX_POLICY_CHARS {
        return Err(format!(
            "is {n} characters long; an SCP may have at most {MAX_POLICY_CHARS}"
        ));
    }
    let parsed: Json = serde_json::from_str(doc).map_err(|e| format!("is not valid JSON ({e})"))?;
    let obj = parsed
        .as_object()
        .ok_or("must be a JSON object with \"Version\" and \"Statement\"")?;
    for k in obj.keys() {
        if !matches!(k.as_str(), "Version" | "Statement" | "Id") {
            return Err(format!(
                "has the unknown top-level element {k:?} (an SCP has \"Version\" and \"Statement\")"
            ));
        }
    }
    match obj.get("Version") {
        None => {}
        Some(Json::String(v)) if v == "2012-10-17" || v == "2008-10-17" => {}
        Some(v) => {
            return Err(format!(
                "has \"Version\": {v}; use \"2012-10-17\" (the current policy language version)"
            ))
        }
    }
    match obj.get("Statement") {
        Some(Json::Array(a)) if !a.is_empty() => {
            for (i, st) in a.iter().enumerate() {
                check_statement(st).map_err(|e| format!("has an invalid Statement[{i}]: {e}"))?;
            }
            Ok(())
        }
        Some(st @ Json::Object(_)) => {
            check_statement(st).map_err(|e| format!("has an invalid Statement: {e}"))
        }
        _ => Err("has no \"Statement\"".into()),
    }
}

/// Condition operators of the IAM policy language (without the `ForAnyValue:` /
/// `ForAllValues:` prefix and the `IfExists` suffix, which any of them may carry).
const CONDITION_OPERATORS: &[&str] = &[
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
    "NumericEquals",
    "NumericNotEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
    "DateEquals",
    "DateNotEquals",
    "DateLessThan",
    "DateLessThanEquals",
    "DateGreaterThan",
    "DateGreaterThanEquals",
    "Bool",
    "BinaryEquals",
    "IpAddress",
    "NotIpAddress",
    "ArnEquals",
    "ArnNotEquals",
    "ArnLike",
    "ArnNotLike",
    "Null",
];

/// One SCP statement: `Effect` Allow or Deny; exactly one of `Action` / `NotAction` (a
/// string or a non-empty list of `service:action` patterns, or `*`); at most one of
/// `Resource` / `NotResource` (strings); `Condition` as operator → key → value(s); an
/// alphanumeric `Sid`. SCPs have no `Principal`.
pub fn check_statement(st: &Json) -> Result<(), String> {
    let Some(st) = st.as_object() else {
        return Err("a statement must be a JSON object".into());
    };
    for k in st.keys() {
        match k.as_str() {
            "Sid" | "Effect" | "Action" | "NotAction" | "Resource" | "NotResource"
            | "Condition" => {}
            "Principal" | "NotPrincipal" => {
                return Err(format!(
                    "{k:?} is not allowed in an SCP (an SCP applies to every principal of the accounts it is attached to)"
                ))
            }
            _ => return Err(format!("unknown element {k:?}")),
        }
    }
    if let Some(sid) = st.get("Sid") {
        match sid.as_str() {
            Some(s) if s.chars().all(|c| c.is_ascii_alphanumeric()) => {}
            _ => {
                return Err(format!(
                    "\"Sid\" must be a string of letters and digits, got {sid}"
                ))
            }
        }
    }
    match st.get("Effect").and_then(Json::as_str) {
        Some("Allow" | "Deny") => {}
        Some(e) => {
            return Err(format!(
                "\"Effect\" must be \"Allow\" or \"Deny\", got {e:?}"
            ))
        }
        None => return Err("\"Effect\" (\"Allow\" or \"Deny\") is missing".into()),
    }
    let action = match (st.get("Action"), st.get("NotAction")) {
        (Some(a), None) => ("Action", a),
        (None, Some(a)) => ("NotAction", a),
        (Some(_), Some(_)) => return Err("has both \"Action\" and \"NotAction\"; give one".into()),
        (None, None) => return Err("has neither \"Action\" nor \"NotAction\"".into()),
    };
    for a in json_strings(action.0, action.1)? {
        action_pattern(a).map_err(|e| format!("{:?} {a:?} {e}", action.0))?;
    }
    match (st.get("Resource"), st.get("NotResource")) {
        (Some(_), Some(_)) => {
            return Err("has both \"Resource\" and \"NotResource\"; give one".into())
        }
        (Some(r), None) => resources("Resource", r)?,
        (None, Some(r)) => resources("NotResource", r)?,
        (None, None) => {}
    }
    if let Some(c) = st.get("Condition") {
        condition(c)?;
    }
    Ok(())
}

/// A string or a non-empty list of strings.
fn json_strings<'a>(what: &str, v: &'a Json) -> Result<Vec<&'a str>, String> {
    match v {
        Json::String(s) => Ok(vec![s.as_str()]),
        Json::Array(a) if !a.is_empty() => a
            .iter()
            .map(|x| {
                x.as_str()
                    .ok_or_else(|| format!("{what:?} must list strings, got {x}"))
            })
            .collect(),
        _ => Err(format!(
            "{what:?} must be a string or a non-empty list of strings, got {v}"
        )),
    }
}

/// `*` or `service:action` with wildcards.
fn action_pattern(a: &str) -> Result<(), String> {
    if a == "*" {
        return Ok(());
    }
    let Some((service, action)) = a.split_once(':') else {
        return Err("is not \"service:action\" (e.g. \"s3:PutObject\", \"ec2:*\") or \"*\"".into());
    };
    if service.is_empty()
        || !service
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(format!("has an invalid service prefix {service:?}"));
    }
    if action.is_empty()
        || !action
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'*' || b == b'?' || b == b'-' || b == b'_')
    {
        return Err(format!("has an invalid action name {action:?}"));
    }
    Ok(())
}

fn resources(what: &str, v: &Json) -> Result<(), String> {
    for r in json_strings(what, v)? {
        if !(r == "*" || r.starts_with("arn:")) {
            return Err(format!("{what:?} {r:?} must be \"*\" or an ARN pattern"));
        }
    }
    Ok(())
}

/// `{"<operator>": {"<key>": <value or list of values>}}`.
fn condition(c: &Json) -> Result<(), String> {
    let Some(ops) = c.as_object().filter(|o| !o.is_empty()) else {
        return Err(format!(
            "\"Condition\" must be an object of operators, e.g. {{\"StringEquals\": {{\"aws:RequestedRegion\": \"eu-central-1\"}}}}; got {c}"
        ));
    };
    for (op, keys) in ops {
        let base = op
            .strip_prefix("ForAnyValue:")
            .or_else(|| op.strip_prefix("ForAllValues:"))
            .unwrap_or(op);
        let base = base.strip_suffix("IfExists").unwrap_or(base);
        if !CONDITION_OPERATORS.contains(&base) {
            return Err(format!("\"Condition\" has the unknown operator {op:?}"));
        }
        let Some(keys) = keys.as_object().filter(|k| !k.is_empty()) else {
            return Err(format!(
                "\"Condition\" operator {op:?} must map condition keys to values, got {keys}"
            ));
        };
        for (k, v) in keys {
            if !k.contains(':') {
                return Err(format!(
                    "\"Condition\" key {k:?} is not a condition key (\"aws:...\" or \"<service>:...\")"
                ));
            }
            let scalar = |x: &Json| matches!(x, Json::String(_) | Json::Bool(_) | Json::Number(_));
            let ok = match v {
                Json::Array(a) => !a.is_empty() && a.iter().all(scalar),
                x => scalar(x),
            };
            if !ok {
                return Err(format!(
                    "\"Condition\" value of {k:?} must be a string, number, boolean or a list of them, got {v}"
                ));
            }
        }
    }
    Ok(())
}

/// Two documents are the same policy when they parse to the same JSON: AWS may hand
/// content back re-serialised, which must not look like drift.
pub fn same_document(a: &str, b: &str) -> bool {
    match (
        serde_json::from_str::<Json>(a),
        serde_json::from_str::<Json>(b),
    ) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// Checks the guardrail inputs under `base` (a `guardrails` block or the data source root).
/// Unknown values are skipped.
pub fn validate_guardrails(base: &AttributePath, v: &Value, d: &mut Diagnostics) {
    let regions = v.get("allowed_regions");
    let mut seen = std::collections::BTreeSet::new();
    for (i, r) in regions.elements().iter().enumerate() {
        if let Some(r) = r.as_str() {
            let path = base.clone().attr("allowed_regions").index(i as i64);
            if let Err(why) = check_region(r) {
                d.error_at(path, "Invalid AWS region", why);
            } else if !seen.insert(r.to_string()) {
                d.error_at(
                    path,
                    "Duplicate region",
                    format!("{r:?} is listed twice in allowed_regions."),
                );
            }
        }
    }
    if matches!(regions, Value::List(l) if l.is_empty()) {
        d.error_at(
            base.clone().attr("allowed_regions"),
            "Empty region list",
            "An empty allowed_regions would deny every regional service. Leave it unset for no region restriction.",
        );
    }
    for (i, a) in v.get("exempt_principal_arns").elements().iter().enumerate() {
        if let Some(a) = a.as_str() {
            if let Err(why) = principal_arn(a) {
                d.error_at(
                    base.clone().attr("exempt_principal_arns").index(i as i64),
                    "Invalid principal ARN",
                    format!("{a:?} {why}."),
                );
            }
        }
    }
}

/// An IAM principal ARN pattern (`arn:aws:iam::111111111111:role/breakglass`, wildcards
/// allowed in the account and name as `ArnNotLike` allows them).
fn principal_arn(a: &str) -> Result<(), String> {
    let parts: Vec<&str> = a.splitn(6, ':').collect();
    if parts.len() != 6 || parts[0] != "arn" || parts[2] != "iam" {
        return Err("is not an IAM ARN (arn:aws:iam::<account-id>:role/<name>)".into());
    }
    if !(parts[1] == "*" || parts[1].starts_with("aws")) {
        return Err(format!("has an unknown partition {:?}", parts[1]));
    }
    let acct = parts[4];
    if !(acct == "*" || (acct.len() == 12 && acct.bytes().all(|b| b.is_ascii_digit()))) {
        return Err(format!(
            "has an invalid account {acct:?} (12 digits or \"*\")"
        ));
    }
    let res = parts[5];
    if !["role/", "user/", "root", "assumed-role/"]
        .iter()
        .any(|p| res.starts_with(p))
    {
        return Err("must name a role, user, assumed-role or root".into());
    }
    Ok(())
}

/// Checks `extra_policies` (name → JSON) under `path`: names, JSON, size.
pub fn validate_extra_policies(path: &AttributePath, v: &Value, d: &mut Diagnostics) {
    let Some(m) = v.entries() else { return };
    for (k, doc) in m {
        let p = path.clone().key(k);
        if let Err(why) = policy_key(k) {
            d.error_at(
                p.clone(),
                "Invalid policy name",
                format!("Extra policy name {k:?} {why}."),
            );
        }
        if let Some(doc) = doc.as_str() {
            if let Err(why) = check_document(doc) {
                d.error_at(
                    p,
                    "Invalid policy document",
                    format!("The extra policy {k:?} {why}."),
                );
            }
        }
    }
}

/// The number of SCPs the target will hold directly, including FullAWSAccess; `None`
/// while the set of extra policies is unknown.
pub fn policy_count(g: &Guardrails, extra: &Value) -> Option<usize> {
    let extras = match extra {
        Value::Null => 0,
        Value::Unknown => return None,
        v => v.entries().map_or(0, |m| m.len()),
    };
    Some(FULL_AWS_ACCESS_SLOTS + g.render().len() + extras)
}

/// Errors (at `path`) when the target would hold more than `MAX_POLICIES_PER_TARGET` SCPs.
pub fn validate_count(path: &AttributePath, g: &Guardrails, extra: &Value, d: &mut Diagnostics) {
    if let Some(n) = policy_count(g, extra) {
        if n > MAX_POLICIES_PER_TARGET {
            d.error_at(
                path.clone(),
                "Too many policies for one target",
                format!(
                    "This would attach {n} SCPs to one target (FullAWSAccess, {} guardrail policies and {} extra); AWS allows at most {MAX_POLICIES_PER_TARGET}. Merge extra policies into fewer documents.",
                    g.render().len(),
                    n - FULL_AWS_ACCESS_SLOTS - g.render().len()
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Json {
        serde_json::from_str(s).expect("json")
    }

    #[test]
    fn defaults_render_one_baseline_policy() {
        let docs = Guardrails::default().render();
        assert_eq!(docs.keys().collect::<Vec<_>>(), vec![BASELINE_KEY]);
        let doc = parse(&docs[BASELINE_KEY]);
        let sids: Vec<&str> = doc["Statement"]
            .as_array()
            .expect("array")
            .iter()
            .map(|s| s["Sid"].as_str().expect("sid"))
            .collect();
        assert_eq!(
            sids,
            vec![
                "DenyLeavingOrganization",
                "ProtectFlowLogs",
                "ProtectCloudTrail",
                "DenyRootUser"
            ]
        );
        assert!(check_document(&docs[BASELINE_KEY]).is_ok());
    }

    #[test]
    fn region_restriction_exempts_global_services_and_principals() {
        let g = Guardrails {
            allowed_regions: vec!["eu-central-1".into(), "eu-west-1".into()],
            exempt_principal_arns: vec!["arn:aws:iam::*:role/breakglass".into()],
            ..Guardrails::default()
        };
        let docs = g.render();
        let doc = parse(&docs[REGIONS_KEY]);
        let st = &doc["Statement"][0];
        assert_eq!(st["Effect"], "Deny");
        assert!(st["NotAction"]
            .as_array()
            .expect("array")
            .contains(&json!("iam:*")));
        assert_eq!(
            st["Condition"]["StringNotEquals"]["aws:RequestedRegion"],
            json!(["eu-central-1", "eu-west-1"])
        );
        assert_eq!(
            st["Condition"]["ArnNotLike"]["aws:PrincipalARN"],
            json!(["arn:aws:iam::*:role/breakglass"])
        );
        // The flow-log statement is exempted too; leaving the organization is not.
        let base = parse(&docs[BASELINE_KEY]);
        assert!(base["Statement"][1]["Condition"]["ArnNotLike"].is_object());
        assert!(base["Statement"][0].get("Condition").is_none());
        assert!(docs.values().all(|d| check_document(d).is_ok()));
    }

    #[test]
    fn everything_off_renders_nothing() {
        let g = Guardrails {
            deny_leaving_organization: false,
            protect_flow_logs: false,
            protect_cloudtrail: false,
            deny_root_user: false,
            ..Guardrails::default()
        };
        assert!(g.render().is_empty());
    }

    #[test]
    fn rendering_is_deterministic() {
        let g = Guardrails {
            allowed_regions: vec!["us-east-1".into()],
            ..Guardrails::default()
        };
        assert_eq!(g.render(), g.render());
    }

    #[test]
    fn import_recovers_the_switches() {
        let g = Guardrails {
            protect_cloudtrail: false,
            allowed_regions: vec!["eu-west-1".into()],
            exempt_principal_arns: vec!["arn:aws:iam::*:role/bg".into()],
            ..Guardrails::default()
        };
        assert_eq!(Guardrails::from_documents(&g.render()), Some(g));
        let g = Guardrails {
            deny_root_user: false,
            exempt_principal_arns: vec!["arn:aws:iam::*:role/bg".into()],
            ..Guardrails::default()
        };
        assert_eq!(Guardrails::from_documents(&g.render()), Some(g.clone()));
        let mut edited = g.render();
        edited.insert(
            BASELINE_KEY.into(),
            r#"{"Statement":[{"Sid":"Other"}]}"#.into(),
        );
        assert_eq!(Guardrails::from_documents(&edited), None);
        assert_eq!(Guardrails::default().to_block(), Value::List(Vec::new()));
    }

    #[test]
    fn documents_are_checked() {
        assert!(check_document("{not json").is_err());
        assert!(check_document("[]").is_err());
        assert!(check_document(r#"{"Version":"2012-10-17"}"#).is_err());
        let big = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Action":"*","Resource":"*","Sid":"{}"}}]}}"#,
            "x".repeat(MAX_POLICY_CHARS)
        );
        assert!(check_document(&big)
            .expect_err("too big")
            .contains("at most 5120"));
        assert!(same_document(r#"{"a": 1, "b": [1]}"#, r#"{"b":[1],"a":1}"#));
    }

    #[test]
    fn statements_are_checked() {
        let doc = |st: &str| format!(r#"{{"Version":"2012-10-17","Statement":[{st}]}}"#);
        for ok in [
            r#"{"Effect":"Deny","Action":"s3:*","Resource":"*"}"#,
            r#"{"Sid":"NoIam","Effect":"Deny","NotAction":["iam:Get*","sts:AssumeRole"],"Resource":"*","Condition":{"StringNotEquals":{"aws:RequestedRegion":["eu-central-1"]},"BoolIfExists":{"aws:MultiFactorAuthPresent":false}}}"#,
            r#"{"Effect":"Allow","Action":"*","Resource":"*"}"#,
            r#"{"Effect":"Deny","Action":"ec2:RunInstances","NotResource":"arn:aws:ec2:*:*:instance/*","Condition":{"ForAnyValue:StringLike":{"ec2:InstanceType":"*.metal"}}}"#,
        ] {
            assert_eq!(check_document(&doc(ok)), Ok(()), "{ok}");
        }
        for (bad, why) in [
            (
                r#"{"Effect":"Audit","Action":"s3:*","Resource":"*"}"#,
                "\"Effect\" must be \"Allow\" or \"Deny\"",
            ),
            (
                r#"{"Effect":"deny","Action":"s3:*","Resource":"*"}"#,
                "\"Effect\" must be",
            ),
            (
                r#"{"Action":"s3:*","Resource":"*"}"#,
                "\"Effect\" (\"Allow\" or \"Deny\") is missing",
            ),
            (
                r#"{"Effect":"Deny","Resource":"*"}"#,
                "neither \"Action\" nor \"NotAction\"",
            ),
            (
                r#"{"Effect":"Deny","Action":"s3:*","NotAction":"s3:Get*"}"#,
                "both \"Action\" and \"NotAction\"",
            ),
            (
                r#"{"Effect":"Deny","Action":"s3 PutObject"}"#,
                "is not \"service:action\"",
            ),
            (
                r#"{"Effect":"Deny","Action":[],"Resource":"*"}"#,
                "non-empty list",
            ),
            (
                r#"{"Effect":"Deny","Action":"s3:*","Resource":"bucket"}"#,
                "an ARN pattern",
            ),
            (
                r#"{"Effect":"Deny","Action":"s3:*","Principal":"*"}"#,
                "\"Principal\" is not allowed",
            ),
            (
                r#"{"Effect":"Deny","Action":"s3:*","Condition":{"StringEqualz":{"aws:x":"y"}}}"#,
                "unknown operator",
            ),
            (
                r#"{"Effect":"Deny","Action":"s3:*","Condition":{"StringEquals":"aws:x"}}"#,
                "must map condition keys",
            ),
            (
                r#"{"Effect":"Deny","Action":"s3:*","Condition":{"StringEquals":{"region":"x"}}}"#,
                "is not a condition key",
            ),
            (
                r#"{"Effect":"Deny","Action":"s3:*","Condition":{"StringEquals":{"aws:x":{"a":1}}}}"#,
                "must be a string, number",
            ),
            (
                r#"{"Effect":"Deny","Action":"s3:*","Sid":"no spaces"}"#,
                "\"Sid\"",
            ),
            (
                r#"{"Effect":"Deny","Action":"s3:*","Resources":"*"}"#,
                "unknown element \"Resources\"",
            ),
        ] {
            let e = check_document(&doc(bad)).expect_err(bad);
            assert!(e.contains("Statement[0]") && e.contains(why), "{bad}: {e}");
        }
        assert!(
            check_document(r#"{"Version":"2012-10-17","Statement":[],"Extra":1}"#)
                .expect_err("unknown top level")
                .contains("\"Extra\"")
        );
        assert!(check_document(
            r#"{"Version":"2021-01-01","Statement":{"Effect":"Deny","Action":"*"}}"#
        )
        .expect_err("version")
        .contains("2012-10-17"));
    }

    #[test]
    fn count_includes_full_aws_access() {
        let g = Guardrails {
            allowed_regions: vec!["us-east-1".into()],
            ..Guardrails::default()
        };
        let extra = Value::Map(
            ["a", "b"]
                .iter()
                .map(|k| (k.to_string(), Value::from("{}")))
                .collect(),
        );
        assert_eq!(policy_count(&g, &extra), Some(5));
        let mut d = Diagnostics::new();
        validate_count(&AttributePath::root("extra_policies"), &g, &extra, &mut d);
        assert!(d.is_empty());
        let extra3 = Value::Map(
            ["a", "b", "c"]
                .iter()
                .map(|k| (k.to_string(), Value::from("{}")))
                .collect(),
        );
        validate_count(&AttributePath::root("extra_policies"), &g, &extra3, &mut d);
        assert!(d.has_errors());
        assert_eq!(policy_count(&g, &Value::Unknown), None);
    }

    #[test]
    fn guardrail_inputs_point_at_attributes() {
        let v = Value::object([
            (
                "allowed_regions",
                Value::List(vec![
                    Value::from("eu-central-1"),
                    Value::from("moon-1"),
                    Value::from("eu-central-1"),
                ]),
            ),
            (
                "exempt_principal_arns",
                Value::List(vec![Value::from("arn:aws:s3:::bucket")]),
            ),
        ]);
        let mut d = Diagnostics::new();
        validate_guardrails(&AttributePath::root("guardrails").index(0), &v, &mut d);
        let paths: Vec<String> =
            d.0.iter()
                .filter_map(|x| x.path.as_ref().map(|p| p.to_string()))
                .collect();
        assert_eq!(
            paths,
            vec![
                "guardrails[0].allowed_regions[1]",
                "guardrails[0].allowed_regions[2]",
                "guardrails[0].exempt_principal_arns[0]"
            ]
        );
    }

    #[test]
    fn extra_policy_names_and_documents() {
        let v = Value::Map(
            [
                (
                    "baseline",
                    Value::from(r#"{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}"#),
                ),
                ("ok", Value::from("nope")),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        );
        let mut d = Diagnostics::new();
        validate_extra_policies(&AttributePath::root("extra_policies"), &v, &mut d);
        let summaries: Vec<&str> = d.0.iter().map(|x| x.summary.as_str()).collect();
        assert_eq!(
            summaries,
            vec!["Invalid policy name", "Invalid policy document"]
        );
        assert!(principal_arn("arn:aws:iam::111111111111:role/x").is_ok());
        assert!(principal_arn("arn:aws:iam::1:role/x").is_err());
    }
}
