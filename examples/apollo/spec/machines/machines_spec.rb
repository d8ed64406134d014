# Every host of properties.yml gets the examples of each of its roles
# (spec/roles/<role>_spec.rb define them as shared examples; they get the
# host's name).
require 'spec_helper'

Dir[File.join(__dir__, 'roles', '*_spec.rb')].sort.each { |f| require f }

PROPERTIES.fetch('hosts').each do |name, host|
  describe "#{name} (#{host.fetch('address')})", host: host.fetch('address') do
    host.fetch('roles').each do |role|
      context(role) { include_examples role, name }
    end
  end
end
