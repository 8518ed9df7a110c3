# The project's web frontend in this environment: a private S3 bucket served through CloudFront (Origin
# Access Control), with its DNS zone. With a certificate (ACM, us-east-1, issued in this account) the site
# answers on www.<frontend_zone_name> with A/AAAA alias records; without one, on the CloudFront domain.
module "frontend" {
  source = "../../../terraform-modules/frontend"

  name            = "${var.project}-${var.stage}-web"
  zone_name       = var.frontend_zone_name
  aliases         = var.frontend_certificate_arn == null ? [] : ["www.${var.frontend_zone_name}"]
  certificate_arn = var.frontend_certificate_arn
  price_class     = var.frontend_price_class
  force_destroy   = var.force_destroy_frontend
  tags            = var.tags
}
