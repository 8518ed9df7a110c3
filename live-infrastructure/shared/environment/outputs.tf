output "environment" {
  description = "The environment's network, for the layers above (microservices, frontends)."
  value = {
    name               = module.environment.name
    vpc_id             = module.environment.vpc_id
    private_subnet_ids = module.environment.private_subnet_ids
    public_subnet_ids  = module.environment.public_subnet_ids
    nat_public_ips     = module.environment.nat_public_ips
    flow_log_group     = module.environment.flow_log_group_name
  }
}

output "cluster" {
  description = "What the microservice layer needs: cluster name, IRSA issuer and provider, node role."
  value = {
    name              = module.environment.cluster_name
    endpoint          = module.environment.cluster_endpoint
    oidc_issuer_url   = module.environment.oidc_issuer_url
    oidc_provider_arn = module.environment.oidc_provider_arn
    node_role_arn     = module.environment.node_role_arn
  }
}

output "database" {
  description = "Database endpoint and the ARN of its Secrets Manager password secret."
  value = {
    endpoint   = module.environment.database_endpoint
    port       = module.environment.database_port
    secret_arn = module.environment.database_master_user_secret_arn
  }
}

output "services" {
  description = "Each service's image, ECR repository and Helm release (revision, status, object digests)."
  value = {
    images       = module.services.images
    repositories = module.services.repository_urls
    releases     = module.services.releases
  }
}

output "frontend" {
  description = "The frontend: bucket, distribution, its CloudFront domain, the zone and the site's aliases."
  value = {
    bucket          = module.frontend.bucket_name
    distribution_id = module.frontend.distribution_id
    domain_name     = module.frontend.domain_name
    zone_id         = module.frontend.zone_id
    name_servers    = module.frontend.name_servers
    aliases         = var.frontend_certificate_arn == null ? [] : ["www.${var.frontend_zone_name}"]
  }
}
