# The original plan's services, deployed into the environment's cluster (one Helm release each).
# Their image tags come from image_tags.auto.tfvars.json beside this file, which the service pipeline
# rewrites on every release, so the next infrastructure apply keeps the deployed tag.
module "services" {
  source = "../../../terraform-modules/microservice"
  # The cluster's core services (cluster_services.tf) first; on destroy, the services go first.
  depends_on = [module.cluster_services]

  environment = module.environment
  # The environment's EKS cluster; with kubernetes_host (a local cluster), the provider's kubernetes block.
  cluster      = var.kubernetes_host == null ? module.environment : null
  deploy       = var.deploy_services
  namespace    = "apps"
  image_tags   = var.image_tags
  release_wait = var.release_wait
  force_delete = var.force_delete_images
  tags         = var.tags
  # With the cluster services, every path_prefix routes through their API gateway (an HTTPRoute, with the
  # gateway's JWT and rate limit); without them, an Ingress as before.
  gateway = var.chart_repository == null ? null : module.cluster_services[0].gateway

  services = {
    "api-gateway"    = { path_prefix = "/", max_replicas = 6 }
    "login-service"  = { path_prefix = "/login" }
    "mobile-service" = { path_prefix = "/mobile" }
  }
}
