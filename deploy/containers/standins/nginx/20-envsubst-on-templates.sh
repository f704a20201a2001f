#!/bin/sh
# As the official image does: write /etc/nginx/templates/NAME.template to /etc/nginx/conf.d/NAME,
# replacing ${VAR} only for variables set in the environment (nginx's own $host etc. stay).
set -e
templates=${NGINX_ENVSUBST_TEMPLATE_DIR:-/etc/nginx/templates}
output=${NGINX_ENVSUBST_OUTPUT_DIR:-/etc/nginx/conf.d}
suffix=${NGINX_ENVSUBST_TEMPLATE_SUFFIX:-.template}
[ -d "$templates" ] || exit 0
names=$(env | sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=.*/${\1}/p' | tr '\n' ' ')
for template in "$templates"/*"$suffix"; do
    [ -f "$template" ] || continue
    target="$output/$(basename "$template" "$suffix")"
    echo "$0: envsubst $template -> $target"
    envsubst "$names" <"$template" >"$target"
done
