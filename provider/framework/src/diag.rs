//! Diagnostics with attribute paths: every user-facing problem points at the attribute that
//! caused it, so Terraform can underline the right line of configuration.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// One step of an attribute path: `tags["team"]` is `[Attr("tags"), Key("team")]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathStep {
    Attr(String),
    Key(String),
    Index(i64),
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AttributePath(pub Vec<PathStep>);

impl AttributePath {
    pub fn root(name: &str) -> AttributePath {
        AttributePath(vec![PathStep::Attr(name.to_string())])
    }
    pub fn attr(mut self, name: &str) -> AttributePath {
        self.0.push(PathStep::Attr(name.to_string()));
        self
    }
    pub fn key(mut self, key: &str) -> AttributePath {
        self.0.push(PathStep::Key(key.to_string()));
        self
    }
    pub fn index(mut self, i: i64) -> AttributePath {
        self.0.push(PathStep::Index(i));
        self
    }
}

impl fmt::Display for AttributePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            match s {
                PathStep::Attr(a) if i == 0 => write!(f, "{a}")?,
                PathStep::Attr(a) => write!(f, ".{a}")?,
                PathStep::Key(k) => write!(f, "[{k:?}]")?,
                PathStep::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub summary: String,
    pub detail: String,
    pub path: Option<AttributePath>,
}

/// An ordered collection of diagnostics; errors make the enclosing operation fail.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn new() -> Diagnostics {
        Diagnostics(Vec::new())
    }
    pub fn from_error(summary: impl Into<String>, detail: impl Into<String>) -> Diagnostics {
        let mut d = Diagnostics::new();
        d.error(summary, detail);
        d
    }
    pub fn error(&mut self, summary: impl Into<String>, detail: impl Into<String>) {
        self.push(Severity::Error, summary, detail, None);
    }
    pub fn warning(&mut self, summary: impl Into<String>, detail: impl Into<String>) {
        self.push(Severity::Warning, summary, detail, None);
    }
    pub fn error_at(
        &mut self,
        path: AttributePath,
        summary: impl Into<String>,
        detail: impl Into<String>,
    ) {
        self.push(Severity::Error, summary, detail, Some(path));
    }
    pub fn warning_at(
        &mut self,
        path: AttributePath,
        summary: impl Into<String>,
        detail: impl Into<String>,
    ) {
        self.push(Severity::Warning, summary, detail, Some(path));
    }
    /// A validator's verdict on `value`: its `Err(why)` becomes an error at `path` reading
    /// `"<value>" <why>.`; `Ok` adds nothing.
    pub fn check(
        &mut self,
        path: AttributePath,
        summary: &str,
        value: &str,
        r: Result<(), String>,
    ) {
        if let Err(why) = r {
            self.error_at(path, summary, format!("{value:?} {why}."));
        }
    }
    fn push(
        &mut self,
        severity: Severity,
        summary: impl Into<String>,
        detail: impl Into<String>,
        path: Option<AttributePath>,
    ) {
        self.0.push(Diagnostic {
            severity,
            summary: summary.into(),
            detail: detail.into(),
            path,
        });
    }
    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|d| d.severity == Severity::Error)
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.0 {
            match &d.path {
                Some(p) => writeln!(f, "{:?}: {} ({}): {}", d.severity, d.summary, p, d.detail)?,
                None => writeln!(f, "{:?}: {}: {}", d.severity, d.summary, d.detail)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_display() {
        let p = AttributePath::root("assume_role").index(0).attr("role_arn");
        assert_eq!(p.to_string(), "assume_role[0].role_arn");
        let p = AttributePath::root("tags").key("team");
        assert_eq!(p.to_string(), "tags[\"team\"]");
    }

    #[test]
    fn errors_are_counted() {
        let mut d = Diagnostics::new();
        d.warning("w", "");
        assert!(!d.has_errors());
        d.error_at(AttributePath::root("bucket"), "bad", "detail");
        assert!(d.has_errors());
    }
}
