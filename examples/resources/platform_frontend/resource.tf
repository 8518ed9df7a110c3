resource "platform_frontend" "web" {
  name            = "your-app-web"
  aliases         = ["www.your-app.com"]
  certificate_arn = "arn:aws:acm:us-east-1:111111111111:certificate/00000000-0000-0000-0000-000000000000"
  zone_name       = "your-app.com"
}

# The frontend pipeline runs these after its build.
output "deploy_commands" {
  value = [platform_frontend.web.sync_command, platform_frontend.web.invalidation_command]
}
