# The seed's serverspec suite, in its own style: per-role directories and
# templates (*_spec.rb.j2) filled in from the deployment's outputs.
require 'serverspec'

set :backend, :exec
