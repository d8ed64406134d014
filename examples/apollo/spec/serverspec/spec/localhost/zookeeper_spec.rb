# Every ZooKeeper of the ensemble answers ruok.
require 'spec_helper'

ApolloTarget.marathon_peers.each do |peer|
  host, port = peer.split(':')
  describe command(%(bash -c 'exec 3<>/dev/tcp/#{host}/#{port} && printf ruok >&3 && cat <&3')) do
    its(:stdout) { should eq 'imok' }
    its(:exit_status) { should eq 0 }
  end

  describe port(Integer(port)) do
    it { should be_listening }
  end
end
