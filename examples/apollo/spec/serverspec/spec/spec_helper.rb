# Apollo's serverspec suite runs on the machine under test itself (the
# local cloud's services run here; on a cloud, run it there or switch to
# `set :backend, :ssh` with TARGET_HOST).
require 'serverspec'
require 'json'

set :backend, :exec

# The deployed target's addresses, exported by the deploy pipeline from the
# terraform outputs (MARATHON_URL, MARATHON_PORT, MARATHON_PEERS).
module ApolloTarget
  def self.fetch(name)
    value = ENV[name].to_s
    raise "#{name} is not set: run this suite from the deploy pipeline (or export it)" if value.empty?
    value
  end

  def self.marathon_url
    fetch('MARATHON_URL')
  end

  def self.marathon_port
    Integer(fetch('MARATHON_PORT'))
  end

  def self.marathon_peers
    fetch('MARATHON_PEERS').split(',')
  end
end
