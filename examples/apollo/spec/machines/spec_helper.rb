# The machines cloud's serverspec suite: every example runs over ssh on the
# machine its group names (metadata `host:`), as the run's ssh user with the
# run's key — both from properties.yml, which the pipeline renders from the
# terraform outputs.
require 'serverspec'
require 'net/ssh'
require 'yaml'

PROPERTIES = YAML.load_file(File.expand_path('../properties.yml', __dir__))

set :backend, :ssh
set :request_pty, false

module ApolloMachines
  # Points specinfra at `address`, dropping the connection to the previous host.
  def self.use(address)
    return if Specinfra.configuration.host == address

    # The ssh backend keeps its connection in its own configuration.
    backend = Specinfra.backend
    old = backend.get_config(:ssh)
    old.close if old && !old.closed?
    backend.set_config(:ssh, nil)
    backend.set_config(:scp, nil)
    set :host, address
    set :ssh_options,
        user: PROPERTIES.fetch('ssh_user'),
        keys: [PROPERTIES.fetch('ssh_key')],
        keys_only: true,
        verify_host_key: :never,
        user_known_hosts_file: '/dev/null',
        timeout: 10
  end
end

RSpec.configure do |c|
  c.before(:all) do
    address = self.class.metadata[:host]
    ApolloMachines.use(address) if address
  end
end
