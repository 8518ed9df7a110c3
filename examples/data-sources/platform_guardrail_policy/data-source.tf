data "platform_guardrail_policy" "review" {
  allowed_regions = ["eu-central-1"]
}

# key => the rendered service control policy JSON, for review or other tooling.
output "guardrail_documents" {
  value = data.platform_guardrail_policy.review.documents
}
