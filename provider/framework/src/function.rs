//! Provider-defined functions (protocol 6.5, Terraform 1.8+): `provider::<name>::<function>(...)`
//! in HCL. A function is pure: it gets no client (Terraform may call it before, or without,
//! configuring the provider) and the same arguments always give the same result.
//!
//! Terraform checks arity and converts every argument to its parameter's type before calling;
//! arguments are never null or unknown at the top level (Terraform handles those itself), but
//! elements inside a collection may be null.

use super::types::Type;
use super::value::Value;

/// One positional parameter.
#[derive(Debug, Clone)]
pub struct Parameter {
    pub name: &'static str,
    /// Its type; `Type::Dynamic` accepts any value (its type travels with it).
    pub ty: Type,
    pub description: &'static str,
}

/// Why a call failed: `text` is shown to the user, `argument` (0-based) points at the
/// argument at fault.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionError {
    pub text: String,
    pub argument: Option<usize>,
}

impl FunctionError {
    /// An error about argument `index`.
    pub fn at(index: usize, text: impl Into<String>) -> FunctionError {
        FunctionError {
            text: text.into(),
            argument: Some(index),
        }
    }
}

pub trait Function: Send + Sync {
    /// The name after `provider::<provider>::`.
    fn name(&self) -> &'static str;
    /// One line.
    fn summary(&self) -> &'static str;
    /// Markdown.
    fn description(&self) -> &'static str;
    fn parameters(&self) -> Vec<Parameter>;
    fn return_type(&self) -> Type;
    /// The result for `args` (one per parameter, already converted to its type).
    fn call(&self, args: &[Value]) -> Result<Value, FunctionError>;
}
