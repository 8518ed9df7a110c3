# Proves the remote-state backend works end to end: this stack's state is written to the
# bucket made by ../state-backend and locked in its table. It needs something to keep in
# state, so it creates one small bucket of its own, meant to be thrown away.

resource "platform_state_backend" "demo_artifacts" {
  bucket        = "${var.name_prefix}-demo-artifacts"
  force_destroy = true

  # require_tls keeps its default (true) even on the emulator: nothing reads or writes
  # objects in this bucket, and moto only refuses object reads and writes under that policy.

  noncurrent_version_expiration_days = 7

  tags = {
    purpose = "remote-state-demo"
  }
}
