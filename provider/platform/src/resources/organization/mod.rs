//! AWS Organizations: `platform_organization` (the organization itself and its trail, `org`
//! and `trail`), `platform_organizational_unit` (an OU with rendered, validated
//! guardrail SCPs), `platform_org_account` (account vending) and the
//! `platform_guardrail_policy` data source. Guardrail rendering and input rules are pure
//! (`guardrails`, `validate`); `api` holds the Organizations calls both resources share.

pub mod account;
pub mod api;
pub mod guardrail_data;
pub mod guardrails;
pub mod org;
pub mod ou;
pub mod trail;
pub mod validate;
