output "helm_values" {
  description = "Service name => JSON values for terraform-modules/charts/microservice (`helm upgrade --install <name> charts/microservice -f <file>`)."
  value       = { for name, svc in platform_microservice.this : name => svc.helm_values }
}

output "repository_urls" {
  description = "Service name => ECR repository URL (where CI pushes)."
  value       = { for name, svc in platform_microservice.this : name => svc.repository_url }
}

output "images" {
  description = "Service name => the image deployed (`repository_url:image_tag`)."
  value       = { for name, svc in platform_microservice.this : name => svc.image }
}

output "role_arns" {
  description = "Service name => ARN of the service's IRSA role."
  value       = { for name, svc in platform_microservice.this : name => svc.role_arn }
}

output "services" {
  description = "Service name => the whole platform_microservice resource."
  value       = platform_microservice.this
}

output "releases" {
  description = "Service name => its Helm release: namespace, revision, status and the digest of each object."
  value = {
    for name, r in platform_helm_release.this : name => {
      namespace = r.namespace
      revision  = r.revision
      status    = r.status
      objects   = r.objects
    }
  }
}
