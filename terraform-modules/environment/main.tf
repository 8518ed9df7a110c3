# One environment, secure by construction: the platform_environment resource (VPC with flow
# logs, EKS with every control-plane log, private RDS) with per-stage presets. Flow logs, the
# five EKS log types, KMS-encrypted secrets, private subnets for nodes and database, and the
# database's Secrets Manager password are not switchable: the provider has no such switches.

locals {
  # Per-stage presets. dev and qa save money (one NAT gateway, shorter log retention); prod
  # survives the loss of an AZ (a NAT gateway per AZ) and keeps flow logs for a year.
  presets = {
    dev = {
      nat_gateways          = "single"
      flow_log_retention    = 30
      cluster_log_retention = 30
      node_groups = {
        general = { instance_types = ["t3.medium"], capacity_type = "ON_DEMAND", min_size = 1, max_size = 3, desired_size = 1, disk_size = 20, labels = {} }
      }
      db_instance_class       = "db.t4g.micro"
      db_allocated_storage    = 20
      db_multi_az             = false
      db_deletion_protection  = false
      db_backup_retention     = 1
      db_skip_final_snapshot  = true
      db_performance_insights = false
    }
    qa = {
      nat_gateways          = "single"
      flow_log_retention    = 90
      cluster_log_retention = 90
      node_groups = {
        general = { instance_types = ["t3.large"], capacity_type = "ON_DEMAND", min_size = 2, max_size = 4, desired_size = 2, disk_size = 30, labels = {} }
      }
      db_instance_class       = "db.t4g.small"
      db_allocated_storage    = 20
      db_multi_az             = false
      db_deletion_protection  = false
      db_backup_retention     = 7
      db_skip_final_snapshot  = true
      db_performance_insights = false
    }
    prod = {
      nat_gateways          = "per_az"
      flow_log_retention    = 365
      cluster_log_retention = 365
      node_groups = {
        general = { instance_types = ["m6i.large"], capacity_type = "ON_DEMAND", min_size = 3, max_size = 10, desired_size = 3, disk_size = 50, labels = {} }
      }
      db_instance_class       = "db.r6g.large"
      db_allocated_storage    = 100
      db_multi_az             = true
      db_deletion_protection  = true
      db_backup_retention     = 30
      db_skip_final_snapshot  = false
      db_performance_insights = true
    }
  }
  preset = local.presets[var.stage]

  nat_gateways       = var.nat_gateways == null ? local.preset.nat_gateways : var.nat_gateways
  flow_log_retention = var.flow_log_retention_in_days == null ? local.preset.flow_log_retention : var.flow_log_retention_in_days

  node_groups       = var.node_groups == null ? local.preset.node_groups : var.node_groups
  db_instance_class = var.database_instance_class == null ? local.preset.db_instance_class : var.database_instance_class

  tags = merge({ stage = var.stage }, var.tags)
}

resource "platform_environment" "this" {
  name               = var.name
  vpc_cidr           = var.vpc_cidr
  availability_zones = var.availability_zones
  nat_gateways       = local.nat_gateways
  subnet_newbits     = var.subnet_newbits
  tags               = local.tags

  flow_logs {
    retention_in_days        = local.flow_log_retention
    kms_key_arn              = var.flow_log_kms_key_arn
    max_aggregation_interval = var.flow_log_max_aggregation_interval
  }

  dynamic "cluster" {
    for_each = var.enable_cluster ? [1] : []

    content {
      version                = var.cluster_version
      endpoint_public_access = length(var.cluster_public_access_cidrs) > 0
      public_access_cidrs    = length(var.cluster_public_access_cidrs) > 0 ? var.cluster_public_access_cidrs : null
      secrets_kms_key_arn    = var.cluster_secrets_kms_key_arn
      log_retention_in_days  = local.preset.cluster_log_retention
    }
  }

  dynamic "node_groups" {
    for_each = var.enable_cluster ? local.node_groups : {}

    content {
      name           = node_groups.key
      instance_types = node_groups.value.instance_types
      capacity_type  = node_groups.value.capacity_type
      min_size       = node_groups.value.min_size
      max_size       = node_groups.value.max_size
      desired_size   = node_groups.value.desired_size
      disk_size      = node_groups.value.disk_size
      labels         = node_groups.value.labels
    }
  }

  dynamic "database" {
    for_each = var.enable_cluster && var.enable_database ? [1] : []

    content {
      engine                  = var.database_engine
      engine_version          = var.database_engine_version
      instance_class          = local.db_instance_class
      allocated_storage       = local.preset.db_allocated_storage
      multi_az                = local.preset.db_multi_az
      deletion_protection     = local.preset.db_deletion_protection
      backup_retention_period = local.preset.db_backup_retention
      skip_final_snapshot     = local.preset.db_skip_final_snapshot
      performance_insights    = local.preset.db_performance_insights
    }
  }

  timeouts {
    create = var.timeouts.create
    update = var.timeouts.update
    delete = var.timeouts.delete
  }
}
