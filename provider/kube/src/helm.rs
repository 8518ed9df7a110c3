//! The helm v3 binary, driven so that releases stay ordinary Helm releases (`helm list`,
//! `helm history` and `helm rollback` work on them). Every run gets a kubeconfig of its own,
//! written 0600 to a temporary file and removed afterwards, holding a fresh token; values go
//! through a temporary file too, never the command line (which `ps` shows).
//!
//! Why the binary and not a native re-implementation: Helm's template engine (Go templates,
//! Sprig, `lookup`, capabilities), its storage format (release secrets, gzip'd protobuf-like
//! JSON) and its three-way merge on upgrade are what users rely on; matching them natively
//! would be a second Helm to keep in step. The cost is a process per call (tens of ms).

use crate::cluster::Connection;
use serde_json::Value as Json;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A release to render or install.
#[derive(Debug, Clone)]
pub struct ReleaseSpec {
    pub name: String,
    pub namespace: String,
    /// A local path, a chart name in `repository`, or an `oci://` reference.
    pub chart: String,
    pub repository: Option<String>,
    pub version: Option<String>,
    /// The values, as a JSON document.
    pub values: String,
    pub create_namespace: bool,
    pub max_history: i64,
    /// Leave the chart's `crds/` alone (the caller applies them itself, see `objects`).
    pub skip_crds: bool,
}

/// What Helm says of a release.
#[derive(Debug, Clone, PartialEq)]
pub struct ReleaseInfo {
    pub revision: i64,
    pub status: String,
    pub chart_name: String,
    pub chart_version: String,
    pub app_version: String,
    pub manifest: String,
    /// The values the user supplied (`config` in Helm's release), as JSON.
    pub values: Json,
}

#[derive(Debug, thiserror::Error)]
pub enum HelmError {
    #[error("helm was not found ({0}). Install helm v3 or set `helm_binary` in the provider block to its path.")]
    NotFound(String),
    #[error("{binary} is helm {version}; platformkit needs helm v3 (releases must stay Helm 3 releases).")]
    WrongVersion { binary: String, version: String },
    #[error("`helm {command}` failed: {stderr}")]
    Failed { command: String, stderr: String },
    #[error("`helm {command}` did not finish within {secs} s and was stopped")]
    Timeout { command: String, secs: u64 },
    #[error("could not read helm's answer to `helm {command}`: {reason}")]
    Output { command: String, reason: String },
    #[error("could not run helm: {0}")]
    Io(String),
}

impl HelmError {
    /// Helm's own words, for classifying an error by attribute.
    pub fn stderr(&self) -> &str {
        match self {
            HelmError::Failed { stderr, .. } => stderr,
            _ => "",
        }
    }

    /// `helm status` and friends on a release that does not exist.
    pub fn is_release_not_found(&self) -> bool {
        self.stderr().contains("release: not found")
    }
}

/// The helm binary to run.
#[derive(Debug, Clone)]
pub struct Helm {
    pub binary: PathBuf,
}

impl Helm {
    /// `configured` (the provider's `helm_binary`) or the first `helm` on `PATH`.
    pub fn locate(configured: Option<&str>) -> Result<Helm, HelmError> {
        if let Some(path) = configured {
            let p = PathBuf::from(path);
            return if p.is_file() {
                Ok(Helm { binary: p })
            } else {
                Err(HelmError::NotFound(format!("no file at {path}")))
            };
        }
        let path = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&path)
            .map(|dir| dir.join("helm"))
            .find(|p| p.is_file())
            .map(|binary| Helm { binary })
            .ok_or_else(|| HelmError::NotFound("no `helm` on PATH".into()))
    }

    /// The version string (`v3.17.2`); an error for anything but Helm 3. Asked once per binary
    /// and provider process: a plan of 30 releases would otherwise start 30 more processes.
    pub async fn check_version(&self) -> Result<String, HelmError> {
        static CHECKED: std::sync::Mutex<Vec<(PathBuf, String)>> =
            std::sync::Mutex::new(Vec::new());
        let known = CHECKED.lock().ok().and_then(|c| {
            c.iter()
                .find(|(p, _)| *p == self.binary)
                .map(|(_, v)| v.clone())
        });
        if let Some(v) = known {
            return Ok(v);
        }
        let version = self.ask_version().await?;
        if let Ok(mut c) = CHECKED.lock() {
            c.push((self.binary.clone(), version.clone()));
        }
        Ok(version)
    }

    async fn ask_version(&self) -> Result<String, HelmError> {
        let out = self
            .run(
                &["version", "--template", "{{.Version}}"],
                None,
                Duration::from_secs(30),
            )
            .await?;
        let version = out.trim().to_owned();
        if version.starts_with("v3.") {
            Ok(version)
        } else {
            Err(HelmError::WrongVersion {
                binary: self.binary.display().to_string(),
                version,
            })
        }
    }

    /// Runs helm with a private kubeconfig for `conn`; stdout on success.
    async fn run(
        &self,
        args: &[&str],
        conn: Option<&Connection>,
        timeout: Duration,
    ) -> Result<String, HelmError> {
        let command = args
            .iter()
            .take_while(|a| !a.starts_with("--"))
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        let kubeconfig = match conn {
            Some(c) => Some(TempFile::with(&c.kubeconfig()).map_err(HelmError::Io)?),
            None => None,
        };
        let mut cmd = tokio::process::Command::new(&self.binary);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(k) = &kubeconfig {
            cmd.arg("--kubeconfig").arg(&k.path);
        }
        tracing::debug!(target: "platform::helm", command = %command, "running helm");
        let child = cmd
            .spawn()
            .map_err(|e| HelmError::NotFound(format!("{}: {e}", self.binary.display())))?;
        let out = match tokio::time::timeout(timeout, child.wait_with_output()).await {
            Err(_) => {
                return Err(HelmError::Timeout {
                    command,
                    secs: timeout.as_secs(),
                })
            }
            Ok(r) => r.map_err(|e| HelmError::Io(e.to_string()))?,
        };
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
            Err(HelmError::Failed {
                command,
                stderr: stderr.strip_prefix("Error: ").unwrap_or(&stderr).to_owned(),
            })
        }
    }

    fn spec_args(spec: &ReleaseSpec, values_file: &Path) -> Vec<String> {
        let mut args = vec![
            "upgrade".to_owned(),
            spec.name.clone(),
            spec.chart.clone(),
            "--install".to_owned(),
            "--namespace".to_owned(),
            spec.namespace.clone(),
            "--values".to_owned(),
            values_file.display().to_string(),
            "--history-max".to_owned(),
            spec.max_history.to_string(),
            "--output".to_owned(),
            "json".to_owned(),
        ];
        if let Some(r) = &spec.repository {
            args.extend(["--repo".to_owned(), r.clone()]);
        }
        if let Some(v) = &spec.version {
            args.extend(["--version".to_owned(), v.clone()]);
        }
        if spec.create_namespace {
            args.push("--create-namespace".to_owned());
        }
        if spec.skip_crds {
            args.push("--skip-crds".to_owned());
        }
        args
    }

    /// The CRDs the chart ships in `crds/`, as a multi-document YAML: the chart rendered
    /// client-side with the release's values and `--include-crds` (whose output separates
    /// every document, unlike `helm show crds`, which concatenates the files as they are).
    pub async fn show_crds(
        &self,
        spec: &ReleaseSpec,
        timeout: Duration,
    ) -> Result<String, HelmError> {
        let values = TempFile::with(&spec.values).map_err(HelmError::Io)?;
        let values_path = values.path.display().to_string();
        let mut args = vec![
            "template",
            spec.name.as_str(),
            spec.chart.as_str(),
            "--namespace",
            spec.namespace.as_str(),
            "--values",
            values_path.as_str(),
            "--include-crds",
        ];
        if let Some(r) = &spec.repository {
            args.extend(["--repo", r.as_str()]);
        }
        if let Some(v) = &spec.version {
            args.extend(["--version", v.as_str()]);
        }
        self.run(&args, None, timeout).await
    }

    /// Renders the release as an upgrade (or install) would, against the cluster's real
    /// capabilities and current state, without changing anything (`--dry-run=server`).
    pub async fn render(
        &self,
        spec: &ReleaseSpec,
        conn: &Connection,
        timeout: Duration,
    ) -> Result<ReleaseInfo, HelmError> {
        let values = TempFile::with(&spec.values).map_err(HelmError::Io)?;
        let mut args = Self::spec_args(spec, &values.path);
        args.push("--dry-run=server".to_owned());
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = self.run(&refs, Some(conn), timeout).await?;
        parse_release(&out, "upgrade --install --dry-run")
    }

    /// Installs or upgrades the release; with `wait`, until its objects are ready or `timeout`.
    pub async fn upgrade(
        &self,
        spec: &ReleaseSpec,
        conn: &Connection,
        wait: bool,
        timeout: Duration,
    ) -> Result<ReleaseInfo, HelmError> {
        let values = TempFile::with(&spec.values).map_err(HelmError::Io)?;
        let mut args = Self::spec_args(spec, &values.path);
        let secs = format!("{}s", timeout.as_secs().max(1));
        if wait {
            args.extend(["--wait".to_owned(), "--timeout".to_owned(), secs]);
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        // Helm's own --timeout bounds the wait; ours bounds the process a little later.
        let out = self
            .run(&refs, Some(conn), timeout + Duration::from_secs(30))
            .await?;
        parse_release(&out, "upgrade --install")
    }

    /// The release as deployed now, or `None` when there is none.
    pub async fn status(
        &self,
        name: &str,
        namespace: &str,
        conn: &Connection,
        timeout: Duration,
    ) -> Result<Option<ReleaseInfo>, HelmError> {
        let args = ["status", name, "--namespace", namespace, "--output", "json"];
        let out = match self.run(&args, Some(conn), timeout).await {
            Err(e) if e.is_release_not_found() => return Ok(None),
            other => other?,
        };
        let mut info = parse_release(&out, "status")?;
        if info.chart_version.is_empty() {
            // `helm status --output json` leaves out the chart; `helm get metadata` (helm >= 3.13) has it.
            let args = [
                "get",
                "metadata",
                name,
                "--namespace",
                namespace,
                "--output",
                "json",
            ];
            let out = self.run(&args, Some(conn), timeout).await?;
            fill_chart_metadata(&mut info, &out);
        }
        if info.manifest.is_empty() {
            let args = ["get", "manifest", name, "--namespace", namespace];
            info.manifest = self.run(&args, Some(conn), timeout).await?;
        }
        if info.values.is_null() {
            let args = [
                "get",
                "values",
                name,
                "--namespace",
                namespace,
                "--output",
                "json",
            ];
            let out = self.run(&args, Some(conn), timeout).await?;
            info.values = serde_json::from_str(&out).unwrap_or(Json::Null);
        }
        Ok(Some(info))
    }

    /// The revisions of a release, oldest first: (revision, status).
    pub async fn history(
        &self,
        name: &str,
        namespace: &str,
        conn: &Connection,
        timeout: Duration,
    ) -> Result<Vec<(i64, String)>, HelmError> {
        let args = [
            "history",
            name,
            "--namespace",
            namespace,
            "--output",
            "json",
        ];
        let out = self.run(&args, Some(conn), timeout).await?;
        let v: Json = serde_json::from_str(&out).map_err(|e| HelmError::Output {
            command: "history".into(),
            reason: e.to_string(),
        })?;
        Ok(v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|r| {
                        Some((r["revision"].as_i64()?, r["status"].as_str()?.to_owned()))
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Rolls the release back to `revision`.
    pub async fn rollback(
        &self,
        name: &str,
        namespace: &str,
        revision: i64,
        conn: &Connection,
        timeout: Duration,
    ) -> Result<(), HelmError> {
        let rev = revision.to_string();
        let args = ["rollback", name, &rev, "--namespace", namespace];
        self.run(&args, Some(conn), timeout).await.map(|_| ())
    }

    /// Uninstalls the release and waits until Kubernetes has deleted its objects.
    pub async fn uninstall(
        &self,
        name: &str,
        namespace: &str,
        conn: &Connection,
        timeout: Duration,
    ) -> Result<(), HelmError> {
        let secs = format!("{}s", timeout.as_secs().max(1));
        let args = [
            "uninstall",
            name,
            "--namespace",
            namespace,
            "--wait",
            "--timeout",
            &secs,
        ];
        match self
            .run(&args, Some(conn), timeout + Duration::from_secs(30))
            .await
        {
            Err(e) if e.is_release_not_found() => Ok(()),
            other => other.map(|_| ()),
        }
    }
}

/// Reads the release JSON `helm ... --output json` prints.
pub fn parse_release(out: &str, command: &str) -> Result<ReleaseInfo, HelmError> {
    let v: Json = serde_json::from_str(out).map_err(|e| HelmError::Output {
        command: command.to_owned(),
        reason: e.to_string(),
    })?;
    let s = |x: &Json| x.as_str().unwrap_or_default().to_owned();
    let revision = v["version"].as_i64().ok_or_else(|| HelmError::Output {
        command: command.to_owned(),
        reason: "no release version in the answer".into(),
    })?;
    Ok(ReleaseInfo {
        revision,
        status: s(&v["info"]["status"]),
        chart_name: s(&v["chart"]["metadata"]["name"]),
        chart_version: s(&v["chart"]["metadata"]["version"]),
        app_version: s(&v["chart"]["metadata"]["appVersion"]),
        manifest: s(&v["manifest"]),
        values: v.get("config").cloned().unwrap_or(Json::Null),
    })
}

/// Chart name, version and app version from `helm get metadata --output json`; a field the
/// answer lacks stays as it was.
fn fill_chart_metadata(info: &mut ReleaseInfo, out: &str) {
    let Ok(v) = serde_json::from_str::<Json>(out) else {
        return;
    };
    let set = |field: &mut String, key: &str| {
        if let Some(s) = v[key].as_str() {
            *field = s.to_owned();
        }
    };
    set(&mut info.chart_name, "chart");
    set(&mut info.chart_version, "version");
    set(&mut info.app_version, "appVersion");
}

/// A private temporary file (mode 0600), removed when dropped.
struct TempFile {
    path: PathBuf,
}

impl TempFile {
    fn with(content: &str) -> Result<TempFile, String> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let path = std::env::temp_dir().join(format!(
            "platformkit-{}-{}-{nanos}.json",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut f = options
            .open(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        f.write_all(content.as_bytes())
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(TempFile { path })
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_json_is_read() {
        let out = r#"{"name":"mobile","info":{"status":"deployed"},"chart":{"metadata":{"name":"microservice","version":"0.1.0","appVersion":"1.0"}},"manifest":"---\nkind: A\n","version":3,"config":{"image":"x"}}"#;
        let r = parse_release(out, "status").expect("parse");
        assert_eq!(r.revision, 3);
        assert_eq!(r.status, "deployed");
        assert_eq!(r.chart_version, "0.1.0");
        assert_eq!(r.values["image"], "x");
        assert!(parse_release("{}", "status").is_err());
    }

    #[test]
    fn chart_metadata_fills_what_status_leaves_out() {
        let out = r#"{"name":"mobile","info":{"status":"deployed"},"manifest":"","version":2}"#;
        let mut r = parse_release(out, "status").expect("parse");
        assert_eq!(r.chart_version, "");
        fill_chart_metadata(
            &mut r,
            r#"{"name":"mobile","chart":"microservice","version":"0.1.0","appVersion":"1.0.0","revision":2}"#,
        );
        assert_eq!(
            (
                r.chart_name.as_str(),
                r.chart_version.as_str(),
                r.app_version.as_str()
            ),
            ("microservice", "0.1.0", "1.0.0")
        );
        fill_chart_metadata(&mut r, "not json");
        assert_eq!(r.chart_version, "0.1.0");
    }

    #[test]
    fn temp_files_are_private_and_removed() {
        let f = TempFile::with("{}").expect("temp");
        let path = f.path.clone();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        drop(f);
        assert!(!path.exists());
    }

    #[test]
    fn a_missing_binary_says_what_to_do() {
        let e = Helm::locate(Some("/nonexistent/helm")).expect_err("missing");
        assert!(e.to_string().contains("helm_binary"), "{e}");
    }
}
