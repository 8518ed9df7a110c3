resource "platform_frontend" "this" {
  name        = var.name
  bucket_name = var.bucket_name

  aliases         = length(var.aliases) > 0 ? var.aliases : null
  certificate_arn = var.certificate_arn
  zone_name       = var.zone_name
  hosted_zone_id  = var.hosted_zone_id

  price_class         = var.price_class
  default_root_object = var.default_root_object
  spa_fallback        = var.spa_fallback
  require_tls         = var.require_tls
  force_destroy       = var.force_destroy

  tags = var.tags
}
