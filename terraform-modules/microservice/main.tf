# One platform_microservice per entry of var.services. Every per-service setting is looked up
# with a fallback, because Terraform 1.0 has no optional() object attributes: a service entry
# only states what differs from the defaults.

locals {
  # A tag from var.image_tags (what CI passes) wins over one written in the service entry.
  image_tags = {
    for name, svc in var.services : name => lookup(var.image_tags, name, lookup(svc, "image_tag", null))
  }
}

resource "platform_microservice" "this" {
  for_each = var.services

  name        = each.key
  environment = var.environment
  image_tag   = local.image_tags[each.key]
  namespace   = lookup(each.value, "namespace", var.namespace)

  replicas          = lookup(each.value, "replicas", null)
  max_replicas      = lookup(each.value, "max_replicas", null)
  container_port    = lookup(each.value, "container_port", null)
  health_check_path = lookup(each.value, "health_check_path", null)
  path_prefix       = lookup(each.value, "path_prefix", null)
  resources         = lookup(each.value, "resources", null)
  env               = lookup(each.value, "env", null)

  iam_policy_arns  = lookup(each.value, "iam_policy_arns", null)
  iam_policy_json  = lookup(each.value, "iam_policy_json", null)
  pull_account_ids = length(var.pull_account_ids) > 0 ? var.pull_account_ids : null

  lifecycle_keep_tagged          = var.lifecycle_keep_tagged
  lifecycle_expire_untagged_days = var.lifecycle_expire_untagged_days
  kms_key_arn                    = var.kms_key_arn
  force_delete                   = var.force_delete

  tags = merge(var.tags, lookup(each.value, "tags", {}))

  # With var.gateway, each service with a path_prefix routes through the platform gateway (an
  # HTTPRoute) instead of an Ingress, with its own rate limit / JWT when its entry sets them.
  dynamic "gateway" {
    for_each = var.gateway != null && lookup(each.value, "path_prefix", null) != null ? [var.gateway] : []
    content {
      parent = gateway.value

      dynamic "rate_limit" {
        for_each = lookup(each.value, "rate_limit_per_minute", null) == null ? [] : [lookup(each.value, "rate_limit_per_minute", null)]
        content {
          requests_per_minute = rate_limit.value
        }
      }

      dynamic "jwt" {
        for_each = lookup(each.value, "jwt", null) == null ? [] : [lookup(each.value, "jwt", null)]
        content {
          issuer    = jwt.value.issuer
          jwks_uri  = jwt.value.jwks_uri
          audiences = lookup(jwt.value, "audiences", null)
        }
      }
    }
  }
}

# One Helm release of the platformkit microservice chart per service, with that service's values
# (image, IRSA annotation, probes, autoscaling, disruption budget, gateway route). A new entry in
# var.image_tags changes one service's values, so exactly one release upgrades.
resource "platform_helm_release" "this" {
  for_each = { for name, svc in var.services : name => svc if var.deploy }

  name             = each.key
  namespace        = platform_microservice.this[each.key].namespace
  create_namespace = true
  chart            = var.chart != null ? var.chart : abspath("${path.module}/../charts/microservice")
  values           = platform_microservice.this[each.key].helm_values
  cluster          = var.cluster
  wait             = var.release_wait
  max_history      = var.release_max_history

  timeouts {
    create = var.release_timeout
    update = var.release_timeout
    delete = var.release_timeout
  }
}
