# The seed's marathon serverspec, against the target the pipeline deployed.
require 'spec_helper'

peers = ApolloTarget.marathon_peers.join(',')

describe command("curl --silent --show-error --fail --retry 2 #{ApolloTarget.marathon_url}/v2/info") do
  its(:stdout) { should match(/"master": ?"zk:\/\/#{Regexp.escape(peers)}\/mesos"/) }
  its(:stdout) { should match(/"zk": ?"zk:\/\/#{Regexp.escape(peers)}\/marathon"/) }
  its(:stdout) { should match(/"name": ?"marathon"/) }
  its(:stdout) { should match(/"mesos_user": ?"root"/) }
  its(:stdout) { should match(/"executor": ?"\/\/cmd"/) }
  its(:exit_status) { should eq 0 }
end

describe port(ApolloTarget.marathon_port) do
  it { should be_listening }
end

describe process('marathon') do
  it { should be_running }
end

describe command("curl --silent --fail #{ApolloTarget.marathon_url}/v2/deployments") do
  its(:stdout) { should match(/^\[\]$/) }
  its(:exit_status) { should eq 0 }
end
