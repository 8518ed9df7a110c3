//! Command-line arguments. Terraform starts the provider with none; the flags exist for humans.

use std::ffi::OsString;

use super::error::PluginError;

/// Shown with `--help` and after a usage error.
pub(crate) const USAGE: &str = "\
Usage: terraform-provider-platform [--debug | --version | --help]

This program is a Terraform provider plugin: Terraform starts it itself (after `terraform init`).

Options:
  --debug     Serve without Terraform in control and print the TF_REATTACH_PROVIDERS value to
              export, so that Terraform attaches to this process (e.g. under a debugger).
  --version   Print the provider version and exit.
  --help      Print this help and exit.";

/// What the process was asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Normal operation: started by Terraform through go-plugin.
    Serve,
    /// `--debug`: started by a developer; Terraform reattaches to it.
    Debug,
    /// `--version`.
    Version,
    /// `--help` / `-h`.
    Help,
}

/// Parses the arguments after the program name. Flags are mutually exclusive because each one
/// selects a whole different way of running; a second one is more likely a typo than intent.
pub(crate) fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Mode, PluginError> {
    let mut mode = Mode::Serve;
    for arg in args {
        let parsed = match arg.to_str() {
            Some("--debug") => Mode::Debug,
            Some("--version" | "-version" | "-v") => Mode::Version,
            Some("--help" | "-help" | "-h") => Mode::Help,
            _ => {
                return Err(PluginError::Usage(format!(
                    "unknown argument {:?}",
                    arg.to_string_lossy()
                )))
            }
        };
        if mode != Mode::Serve && mode != parsed {
            return Err(PluginError::Usage(
                "--debug, --version and --help cannot be combined".to_owned(),
            ));
        }
        mode = parsed;
    }
    Ok(mode)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_strs(args: &[&str]) -> Result<Mode, PluginError> {
        parse(args.iter().map(OsString::from))
    }

    #[test]
    fn no_arguments_serves() {
        assert_eq!(parse_strs(&[]).unwrap(), Mode::Serve);
    }

    #[test]
    fn flags_select_modes() {
        assert_eq!(parse_strs(&["--debug"]).unwrap(), Mode::Debug);
        assert_eq!(parse_strs(&["--version"]).unwrap(), Mode::Version);
        assert_eq!(parse_strs(&["-h"]).unwrap(), Mode::Help);
    }

    #[test]
    fn unknown_and_conflicting_arguments_are_usage_errors() {
        assert!(matches!(
            parse_strs(&["--frobnicate"]),
            Err(PluginError::Usage(_))
        ));
        assert!(matches!(parse_strs(&["serve"]), Err(PluginError::Usage(_))));
        assert!(matches!(
            parse_strs(&["--debug", "--version"]),
            Err(PluginError::Usage(_))
        ));
        assert_eq!(parse_strs(&["--debug", "--debug"]).unwrap(), Mode::Debug);
    }
}
