function p = randperm (varargin)
% Records every permutation simpleNN draws, then returns it unchanged.
% make_fixtures.m puts this directory on the path; it shadows the built-in randperm and
% calls it, so simpleNN's random stream is exactly the one it would be without the wrapper.
global SIMPLENN_RANDPERM_LOG
p = builtin ('randperm', varargin{:});
SIMPLENN_RANDPERM_LOG{end+1} = p;
end
