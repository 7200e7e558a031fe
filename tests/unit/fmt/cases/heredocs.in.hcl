locals {
      script = <<EOT
#!/bin/sh
   echo "${var.name}" {  # not a comment = 1   
	indented with a tab
EOT
  trimmed = <<-EOT
        keep    this   
          exactly
        EOT
  after = 1
    in_list = [
  <<EOT
  x = {
EOT
  ,
  "y",
    ]
}
