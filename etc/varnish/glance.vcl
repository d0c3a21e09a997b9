# Varnish in front of glance-api (Teller).
#
#   varnishd -a :80 -f /etc/glance/varnish/glance.vcl -s malloc,4G
#
# Sharing policy: public-only. glance-api marks a download "Cache-Control: public"
# (public_image_cache_control) only for a public image seen by a caller who is not an
# admin: any caller may see a public image, so a stored copy can be handed to anyone,
# and the response carries no admin-only header (locations). Every other answer
# (private images, admins' downloads, errors, 304s) is passed through and never stored,
# so a private image can never be served from here to another tenant. Identity headers
# (X-Auth-Token, X-Tenant-Id) therefore need no Vary: they never select a stored copy.
#
# Freshness: an image deleted or updated through this Varnish is banned at once; one
# deleted elsewhere is served until its max-age ends (60 s by default). Operators may
# ban an image by hand from a host in "purgers": curl -X PURGE http://varnish/images/ID
#
# Range and conditional requests are answered by Varnish from the stored object.
# Size the storage (-s malloc,SIZE or file,PATH,SIZE) above the largest public image:
# an object that cannot get storage fails part way through its first download.

vcl 4.1;

# glance-api (or the HAProxy address in front of several of them).
backend glance_api {
    .host = "127.0.0.1";
    .port = "9292";
    .first_byte_timeout = 300s;
    .between_bytes_timeout = 60s;
    .probe = {
        .url = "/healthcheck";
        .interval = 2s;
        .timeout = 1s;
        .window = 3;
        .threshold = 2;
    }
}

acl purgers {
    "127.0.0.1";
    "::1";
}

sub ban_image {
    ban("obj.http.x-image-meta-id == " + regsub(req.url, "^/images/([^/?]+).*$", "\1"));
}

sub vcl_recv {
    if (req.method == "PURGE") {
        if (client.ip !~ purgers || req.url !~ "^/images/[^/?]+$") {
            return (synth(405, "Not allowed"));
        }
        call ban_image;
        return (synth(200, "Banned"));
    }
    if ((req.method != "GET" && req.method != "HEAD") || req.url !~ "^/images") {
        # Uploads, updates, deletes, the cache admin API, /healthcheck, /metrics.
        return (pass);
    }
    # Only shared (public) objects are ever stored, so identity headers and
    # cookies do not need to keep a request away from the cache.
    return (hash);
}

sub vcl_backend_response {
    if (beresp.status != 200 || beresp.http.Cache-Control !~ "(^|,)\s*public\s*(,|$)") {
        # Remember for a while that this URL is not shared, so concurrent requests
        # for it go to glance-api at once instead of queueing behind each other.
        set beresp.uncacheable = true;
        set beresp.ttl = 120s;
        return (deliver);
    }
    # Images are large: pass bytes on while they arrive.
    set beresp.do_stream = true;
    return (deliver);
}

sub vcl_deliver {
    if ((req.method == "DELETE" || req.method == "PUT") && resp.status < 300
            && req.url ~ "^/images/[^/?]+$") {
        call ban_image;
    }
}
