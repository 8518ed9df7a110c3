output "load_balancer_controller_role_arn" {
  description = "ARN of the load balancer controller's IRSA role."
  value       = platform_cluster_services.this.load_balancer_controller_role_arn
}

output "fluent_bit_role_arn" {
  description = "ARN of Fluent Bit's IRSA role (writes only to the container log group)."
  value       = platform_cluster_services.this.fluent_bit_role_arn
}

output "log_group_name" {
  description = "The CloudWatch log group of every pod's logs."
  value       = platform_cluster_services.this.log_group_name
}

output "grafana_admin_secret_arn" {
  description = "ARN of the Secrets Manager secret holding Grafana's admin password."
  value       = platform_cluster_services.this.grafana_admin_secret_arn
}

output "gateway_class_name" {
  description = "The GatewayClass microservice routes attach to."
  value       = platform_cluster_services.this.gateway_class_name
}

output "gateway" {
  description = "The platform Gateway (name, namespace, class_name) microservice routes attach to: pass it as the microservice module's `gateway`."
  value       = platform_cluster_services.this.gateway
}

output "releases" {
  description = "Each Helm release: chart, version, namespace, values, status, revision."
  value       = platform_cluster_services.this.releases
}
